package sdk

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestLinksNoLoader keeps the SDK light: a service that imports sdk must not
// link the repository loader, the YAML decoder or the JSON Schema validator
// (bootstrapping from a repository is sdk/fromrepo's job).
func TestLinksNoLoader(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	heavy := regexp.MustCompile(`(?m)^.*(/loader|yaml|jsonschema).*$`)
	if m := heavy.FindAllString(string(out), -1); len(m) > 0 {
		t.Errorf("package sdk depends on %v", m)
	}
}
