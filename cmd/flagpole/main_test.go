package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// binary is the flagpole binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flagpole-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flagpole")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building flagpole: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// flagpole runs the built binary with args in dir ("" for the test's
// directory) and returns its exit code and output.
func flagpole(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runBinary(t, binary, dir, env, args...)
}

// releaseBinary builds, once, flagpole without -race: the binary an
// on-call engineer runs. A -race binary takes about a second just to
// start on a loaded machine, which would hide what a timed CLI test
// measures.
var releaseBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(binary), "release", filepath.Base(binary))
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building flagpole without -race: %v\n%s", err, out)
	}
	return bin, nil
})

// runBinary runs bin with args in dir and returns its exit code and output.
func runBinary(t *testing.T, bin, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running flagpole %v: %v", args, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// exampleRepo is the path of flags.example/ from this package's directory.
func exampleRepo(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../flags.example")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
