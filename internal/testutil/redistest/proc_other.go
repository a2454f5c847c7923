//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the kernel cannot kill a child with its
// parent; servers there stop only through t.Cleanup.
func dieWithParent(*exec.Cmd) {}
