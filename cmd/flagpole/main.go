// Command flagpole runs every role of Flagpole, the GitOps feature-flag
// system: validating and evaluating a flags repository, syncing it from git,
// and serving rule sets to SDKs. See the README for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
