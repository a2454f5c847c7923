package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// guideFiles are the documents whose `flagpole` command lines are checked
// against the binary: every subcommand exists and takes every flag used.
var guideFiles = []string{"../../docs/tutorial.md", "../../docs/review.md", "../../docs/operations.md"}

var (
	helpFlag = regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`)
	usedFlag = regexp.MustCompile(`(?:^|\s)--([a-z0-9-]+)`)
)

// flagpoleLines returns the command lines of the ```sh blocks of a
// Markdown document that run flagpole, with where each is.
func flagpoleLines(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	inSh := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh:
			cmd := strings.TrimSpace(line)
			if j := strings.Index(cmd, "flagpole "); j >= 0 && (j == 0 || strings.HasSuffix(cmd[:j], "&& ") || strings.HasSuffix(cmd[:j], " ")) {
				cmd = cmd[j:]
				if k := strings.Index(cmd, " #"); k >= 0 {
					cmd = cmd[:k]
				}
				if k := strings.Index(cmd, " && "); k >= 0 {
					cmd = cmd[:k]
				}
				out[path+":"+strconv.Itoa(i+1)] = cmd
			}
		}
	}
	return out
}

// pendingCommands are documented commands that another line of work adds;
// while the binary lacks one its lines are reported in the log, not as
// failures. Remove an entry once the command is in.
var pendingCommands = map[string]bool{}

func TestGuideCommandsExist(t *testing.T) {
	helps := map[string]string{}
	n := 0
	for _, f := range guideFiles {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v", err)
		}
		for where, line := range flagpoleLines(t, f) {
			n++
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			sub := []string{fields[1]}
			if (fields[1] == "override" || fields[1] == "keys") && len(fields) > 2 {
				sub = append(sub, fields[2])
			}
			key := strings.Join(sub, " ")
			help, ok := helps[key]
			if !ok {
				r := flagpole(t, "", nil, append(sub, "-h")...)
				if r.code != exitOK && pendingCommands[key] && strings.Contains(r.stderr, "unknown command") {
					t.Logf("%s: `flagpole %s` is not in this build yet; its lines are not checked", where, key)
					helps[key] = ""
					continue
				}
				if r.code != exitOK {
					t.Errorf("%s: `flagpole %s` does not exist (exit %d): %s", where, key, r.code, r.stderr)
					helps[key] = ""
					continue
				}
				help = r.stdout + r.stderr
				helps[key] = help
			}
			if help == "" {
				continue
			}
			defined := map[string]bool{}
			for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
				defined[m[1]] = true
			}
			for _, m := range usedFlag.FindAllStringSubmatch(line, -1) {
				if !defined[m[1]] {
					t.Errorf("%s: `flagpole %s` has no flag --%s: %s", where, key, m[1], line)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d flagpole command lines found in the guides", n)
	}
}
