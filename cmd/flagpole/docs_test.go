package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The documentation's examples are run, so that they cannot drift from what
// the server and the CLI answer. Conventions in the Markdown:
//
//   - In a ```sh block, a line starting with `curl` (with `\` continuations)
//     is a request. `$B` is the server, `$SK` and `$CK` the demo server and
//     client keys of flags.example (http://127.0.0.1:8080 stands for `$B`).
//   - Lines right after it that start with "# " are its answer: a status
//     line (`# HTTP/1.1 304 Not Modified`), headers (`# ETag: "…"`), a JSON
//     body (`# {...}`), or a status and a body (`# 200 {...}`). Without such
//     lines, a ```json block that follows the ```sh block at once (blank
//     lines aside) is the body of its last request.
//   - In expected JSON, `{...}` and "..." stand for anything, "abc..." for
//     any string that starts with abc, and a version-shaped string
//     (hex digits, optionally "-n") for any version. Objects are compared
//     as subsets: a documented answer may leave members out.
//   - A request with no shown answer is not run (streams, preflights).
//
// The README's `eval --explain` output is checked in TestReadmeExplain.

// docFiles are the documents whose examples are checked.
var docFiles = []string{"../../README.md", "../../docs/http-api.md", "../../docs/sdk.md", "../../docs/sync.md", "../../docs/repository.md"}

// docRequest is one curl example and its documented answer.
type docRequest struct {
	where   string // file:line
	args    []string
	status  int
	headers [][2]string
	body    string // expected JSON, "" when not shown
}

func TestDocExamples(t *testing.T) {
	var reqs []docRequest
	for _, f := range docFiles {
		reqs = append(reqs, parseDocRequests(t, f)...)
	}
	if len(reqs) < 5 {
		t.Fatalf("found only %d checked examples; the parser or the docs changed", len(reqs))
	}
	d := startDaemon(t, "serve", "--repo", exampleRepo(t))
	waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	vars := map[string]string{"B": d.url, "SK": prodServerKey, "CK": prodClientKey}
	etag := ""
	for _, r := range reqs {
		t.Run(r.where, func(t *testing.T) {
			req, err := curlRequest(r.args, vars, d.url, etag)
			if err != nil {
				t.Fatalf("%s: %v", r.where, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", r.where, err)
			}
			defer resp.Body.Close()
			var got any
			raw := new(strings.Builder)
			_, _ = bufio.NewReader(resp.Body).WriteTo(raw)
			if e := resp.Header.Get("ETag"); e != "" {
				etag = e
			}
			if r.status != 0 && resp.StatusCode != r.status {
				t.Errorf("%s: status %d, documented %d\n%s", r.where, resp.StatusCode, r.status, raw)
			}
			for _, h := range r.headers {
				if g := strings.Trim(resp.Header.Get(h[0]), `"`); !matchString(strings.Trim(h[1], `"`), g) {
					t.Errorf("%s: header %s = %q, documented %q", r.where, h[0], resp.Header.Get(h[0]), h[1])
				}
			}
			if r.body == "" {
				return
			}
			var want any
			if err := json.Unmarshal([]byte(normalizeDocJSON(r.body)), &want); err != nil {
				t.Fatalf("%s: the documented answer is not JSON: %v\n%s", r.where, err, r.body)
			}
			if err := json.Unmarshal([]byte(raw.String()), &got); err != nil {
				t.Fatalf("%s: the answer is not JSON: %v\n%s", r.where, err, raw)
			}
			if err := matchJSON(want, got, "$"); err != nil {
				t.Errorf("%s: %v\nanswer: %s", r.where, err, raw)
			}
		})
	}
}

// TestReadmeExplain runs the README's `eval --explain` example and compares
// the whole output with the block the README shows.
func TestReadmeExplain(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(text)
	cmdRE := regexp.MustCompile(`(?m)^go run \./cmd/flagpole (eval \./flags\.example [^\n]*\\\n\s+[^\n]*--explain)$`)
	m := cmdRE.FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("README: no `go run ./cmd/flagpole eval ./flags.example … --explain` example found")
	}
	args, err := shellWords(strings.ReplaceAll(m[1], "\\\n", " "))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if a == "./flags.example" {
			args[i] = exampleRepo(t)
		}
	}
	_, after, _ := strings.Cut(doc, "`eval --explain` shows each rule and condition tried:\n\n```\n")
	want, _, ok := strings.Cut(after, "```\n")
	if !ok {
		t.Fatal("README: the explain output block after \"`eval --explain` shows each rule and condition tried:\" is missing")
	}
	r := flagpole(t, "", nil, args...)
	if r.code != exitOK {
		t.Fatalf("flagpole %v: exit %d\n%s", args, r.code, r.stderr)
	}
	if r.stdout != want {
		t.Errorf("README's explain output differs from the CLI's.\nREADME:\n%s\nCLI:\n%s", want, r.stdout)
	}
}

// parseDocRequests finds the checked curl examples of one Markdown file.
func parseDocRequests(t *testing.T, path string) []docRequest {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	if filepath.Base(filepath.Dir(path)) == "docs" {
		name = "docs/" + name
	}
	lines := strings.Split(string(text), "\n")
	var out []docRequest
	var pending *docRequest // the last request of a sh block without an answer
	for i := 0; i < len(lines); i++ {
		fence, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			if strings.TrimSpace(lines[i]) != "" {
				pending = nil
			}
			continue
		}
		lang := strings.TrimSpace(fence)
		start := i + 1
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
		}
		block := lines[start:min(i, len(lines))]
		switch lang {
		case "json":
			if pending != nil {
				pending.body = strings.Join(block, "\n")
				out = append(out, *pending)
			}
			pending = nil
		case "sh":
			pending = nil
			for j := 0; j < len(block); j++ {
				if !strings.HasPrefix(block[j], "curl ") {
					continue
				}
				r := docRequest{where: fmt.Sprintf("%s:%d", name, start+j+1)}
				cmd := block[j]
				for strings.HasSuffix(cmd, "\\") && j+1 < len(block) {
					j++
					cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(block[j])
				}
				cmd, _, _ = strings.Cut(cmd, "  #") // a trailing comment
				args, err := shellWords(cmd)
				if err != nil {
					t.Fatalf("%s: %v", r.where, err)
				}
				r.args = args
				answered := false
				for j+1 < len(block) && strings.HasPrefix(block[j+1], "# ") {
					j++
					answered = true
					parseAnswerLine(t, &r, strings.TrimPrefix(block[j], "# "))
				}
				if answered {
					out = append(out, r)
					pending = nil
				} else {
					pending = &r
				}
			}
		default:
			pending = nil
		}
	}
	return out
}

var (
	statusLineRE = regexp.MustCompile(`^HTTP/[0-9.]+ (\d{3})\b`)
	statusBodyRE = regexp.MustCompile(`^(\d{3}) (\{.*)$`)
	headerLineRE = regexp.MustCompile(`^([A-Za-z-]+): (.+)$`)
)

func parseAnswerLine(t *testing.T, r *docRequest, line string) {
	switch {
	case statusLineRE.MatchString(line):
		r.status, _ = strconv.Atoi(statusLineRE.FindStringSubmatch(line)[1])
	case statusBodyRE.MatchString(line):
		m := statusBodyRE.FindStringSubmatch(line)
		r.status, _ = strconv.Atoi(m[1])
		r.body = m[2]
	case strings.HasPrefix(line, "{"):
		r.body = line
	case headerLineRE.MatchString(line):
		m := headerLineRE.FindStringSubmatch(line)
		r.headers = append(r.headers, [2]string{m[1], m[2]})
	default:
		t.Fatalf("%s: cannot read the documented answer %q", r.where, line)
	}
}

// curlRequest builds the request a curl command line makes. A documented
// If-None-Match names an example version; it is replaced by etag, the
// last ETag the server sent.
func curlRequest(args []string, vars map[string]string, base, etag string) (*http.Request, error) {
	var method, url, body string
	hdr := http.Header{}
	for i := 1; i < len(args); i++ {
		a := expandVars(args[i], vars)
		switch {
		case a == "-H" || a == "-d" || a == "-X":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			v := expandVars(args[i], vars)
			switch a {
			case "-H":
				k, val, _ := strings.Cut(v, ":")
				val = strings.TrimSpace(val)
				if strings.EqualFold(k, "If-None-Match") && etag != "" {
					val = etag
				}
				hdr.Add(k, val)
			case "-d":
				body = v
			case "-X":
				method = v
			}
		case strings.HasPrefix(a, "-"):
			// -s, -i, -N, -si: output options only.
		default:
			url = strings.Replace(a, "http://127.0.0.1:8080", base, 1)
		}
	}
	if strings.Contains(url, "$") {
		return nil, fmt.Errorf("unknown variable in %q", url)
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	return req, nil
}

func expandVars(s string, vars map[string]string) string {
	return os.Expand(s, func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "$" + k
	})
}

// shellWords splits a command line as sh would: single and double quotes,
// backslash escapes outside single quotes; no expansion.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// normalizeDocJSON turns the documentation's {...} placeholders into JSON.
func normalizeDocJSON(s string) string {
	return strings.ReplaceAll(s, "{...}", `"..."`)
}

// versionRE matches a rule-set version: a commit or content hash,
// optionally with an override counter.
var versionRE = regexp.MustCompile(`^[0-9a-f]{7,64}(-\d+)?$`)

// matchString reports whether a documented string stands for got.
func matchString(want, got string) bool {
	switch {
	case want == "...":
		return true
	case strings.HasSuffix(want, "..."):
		return strings.HasPrefix(got, strings.TrimSuffix(want, "..."))
	case versionRE.MatchString(want):
		return versionRE.MatchString(got)
	}
	return want == got
}

// matchJSON compares a documented JSON value with the answer's.
func matchJSON(want, got any, path string) error {
	switch w := want.(type) {
	case string:
		if g, ok := got.(string); ok && matchString(w, g) || w == "..." {
			return nil
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: documented, not in the answer", path, k)
			}
			if err := matchJSON(wv, gv, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			if err := matchJSON(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		if reflect.DeepEqual(want, got) {
			return nil
		}
	}
	return fmt.Errorf("%s: answer %v, documented %v", path, got, want)
}
