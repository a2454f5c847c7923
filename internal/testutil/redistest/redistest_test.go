package redistest

import (
	"strings"
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

func TestStartCluster(t *testing.T) {
	c := StartCluster(t, 3)
	if len(c.Nodes) != 3 {
		t.Fatalf("nodes = %d, want 3", len(c.Nodes))
	}
	for i := range c.Nodes {
		info, err := c.Do(t.Context(), i, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info.(string), "cluster_state:ok") || !strings.Contains(info.(string), "cluster_slots_assigned:16384") {
			t.Errorf("node %d: CLUSTER INFO = %v, %v", i, info, err)
		}
	}
	if !strings.HasPrefix(c.URL(), "redis+cluster://127.0.0.1:") || strings.Count(c.URL(), ",") != 2 {
		t.Errorf("URL = %q", c.URL())
	}
}

func TestStartSentinelFailover(t *testing.T) {
	s := StartSentinel(t)
	before, err := s.MasterAddr(t.Context())
	if err != nil || before != s.Servers[0].Addr() {
		t.Fatalf("master = %q, %v; want %s", before, err, s.Servers[0].Addr())
	}
	if after := s.Failover(); after != s.Servers[1].Addr() {
		t.Fatalf("master after failover = %s, want the replica %s", after, s.Servers[1].Addr())
	}
}

func TestSentinelCrashMaster(t *testing.T) {
	s := StartSentinel(t)
	if after := s.CrashMaster(); after != s.Servers[1].Addr() {
		t.Fatalf("master after crash = %s, want the replica %s", after, s.Servers[1].Addr())
	}
	if err := ping(s.Servers[0].Addr()); err == nil {
		t.Error("crashed master still answers PING")
	}
}
