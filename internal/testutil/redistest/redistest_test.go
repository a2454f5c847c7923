package redistest

import (
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("stopped server still answers PING")
	}
	s.Stop() // idempotent
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}
