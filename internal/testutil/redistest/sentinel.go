package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinel of StartSentinel monitors.
const SentinelMaster = "flagpole"

// Sentinel is a monitored Redis pair owned by a test: a master, one replica
// and one sentinel watching them with quorum 1, each with its own temporary
// directory and free loopback port and no persistence.
type Sentinel struct {
	t testing.TB
	// Servers are the two data nodes; which one is master changes with
	// Failover.
	Servers [2]*Server
	// Sentinel is the sentinel process.
	Sentinel *Server
}

// StartSentinel starts a master, a replica of it and a sentinel monitoring
// the master (down-after 1 s, quorum 1), and waits until the sentinel knows
// the replica. Everything stops when the test ends. It skips the test if
// redis-server is not installed.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := lookPath(t, "redis-server")
	s := &Sentinel{t: t}
	for i := range s.Servers {
		srv := &Server{t: t, bin: bin, dir: t.TempDir()}
		// Without a delay a replica's full sync starts at once instead of
		// after the default 5 s (either node may be master later).
		srv.extra = []string{"--repl-diskless-sync-delay", "0"}
		if i == 1 {
			srv.extra = append(srv.extra, "--replicaof", "127.0.0.1", fmt.Sprint(s.Servers[0].port))
		}
		if err := srv.startFree(nil); err != nil {
			t.Fatalf("redistest: starting sentinel data node %d: %v", i, err)
		}
		t.Cleanup(srv.Stop)
		s.Servers[i] = srv
	}
	sen := &Server{t: t, bin: bin, dir: t.TempDir()}
	sen.conf = filepath.Join(sen.dir, "sentinel.conf")
	err := sen.startFree(func(int) error {
		// The sentinel rewrites its config file, so it is written afresh for
		// each attempt.
		conf := strings.Join([]string{
			"sentinel monitor " + SentinelMaster + " 127.0.0.1 " + fmt.Sprint(s.Servers[0].port) + " 1",
			"sentinel down-after-milliseconds " + SentinelMaster + " 1000",
			"sentinel failover-timeout " + SentinelMaster + " 5000",
			"",
		}, "\n")
		sen.extra = []string{"--sentinel"}
		return os.WriteFile(sen.conf, []byte(conf), 0o600)
	})
	if err != nil {
		t.Fatalf("redistest: starting redis sentinel: %v", err)
	}
	t.Cleanup(sen.Stop)
	s.Sentinel = sen

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitReplica(ctx, s.Servers[1].Addr()); err != nil {
		t.Fatalf("redistest: sentinel setup: %v", err)
	}
	if err := waitSynced(ctx, s.Servers[0].Addr(), s.Servers[1].Addr()); err != nil {
		t.Fatalf("redistest: sentinel setup: %v", err)
	}
	return s
}

// URL is a redis+sentinel:// URL naming the sentinel and SentinelMaster.
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + s.Sentinel.Addr() + "/" + SentinelMaster
}

// MasterAddr asks the sentinel for the current master's host:port.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := s.client()
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: get-master-addr-by-name %s: %w", s.Sentinel.Addr(), SentinelMaster, err)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover waits until the replica has every write the master has taken
// (a failover loses what was not replicated, which is not what tests of
// failover want to see by chance), makes the sentinel promote it (SENTINEL FAILOVER,
// retried while the sentinel has no fresh view of a good replica) and waits
// until the sentinel names the new master and it answers as a master. It
// returns the new master's address. The old master keeps running; the
// sentinel turns it into a replica of the new one at its next INFO poll (up
// to 10 s later), killing its normal and pub/sub clients as it does.
func (s *Sentinel) Failover() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*startTimeout)
	defer cancel()
	old, err := s.MasterAddr(ctx)
	if err != nil {
		s.t.Fatalf("redistest: failover: %v", err)
	}
	replica := s.Servers[0].Addr()
	if old == replica {
		replica = s.Servers[1].Addr()
	}
	if err := waitSynced(ctx, old, replica); err != nil {
		s.t.Fatalf("redistest: failover: %v", err)
	}
	sc := s.client()
	defer sc.Close()
	for {
		err := sc.Failover(ctx, SentinelMaster).Err()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !strings.Contains(err.Error(), "NOGOODSLAVE") && !strings.Contains(err.Error(), "INPROG") {
			s.t.Fatalf("redistest: SENTINEL FAILOVER %s: %v", SentinelMaster, err)
		}
		pause(ctx, 100*time.Millisecond)
	}
	var now string
	for now == "" || now == old {
		if ctx.Err() != nil {
			s.t.Fatalf("redistest: failover: master still %s after %s", old, 3*startTimeout)
		}
		pause(ctx, 50*time.Millisecond)
		now, _ = s.MasterAddr(ctx)
	}
	if err := waitRole(ctx, now, "master"); err != nil {
		s.t.Fatalf("redistest: failover: %v", err)
	}
	return now
}

// CrashMaster kills the current master (SIGKILL) once the replica has every
// write, and waits until the sentinel has noticed (down-after 1 s), promoted
// the replica, and the replica answers as a master. It returns the new
// master's address. The killed server stays down.
func (s *Sentinel) CrashMaster() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*startTimeout)
	defer cancel()
	old, err := s.MasterAddr(ctx)
	if err != nil {
		s.t.Fatalf("redistest: crash master: %v", err)
	}
	victim, survivor := s.Servers[0], s.Servers[1]
	if survivor.Addr() == old {
		victim, survivor = survivor, victim
	}
	if err := waitSynced(ctx, old, survivor.Addr()); err != nil {
		s.t.Fatalf("redistest: crash master: %v", err)
	}
	victim.Stop()
	for now := ""; now != survivor.Addr(); now, _ = s.MasterAddr(ctx) {
		if ctx.Err() != nil {
			s.t.Fatalf("redistest: crash master: the sentinel still names %s after %s: %s", now, 3*startTimeout, s.Sentinel.logTail())
		}
		pause(ctx, 50*time.Millisecond)
	}
	if err := waitRole(ctx, survivor.Addr(), "master"); err != nil {
		s.t.Fatalf("redistest: crash master: %v", err)
	}
	return survivor.Addr()
}

// client is a client of the sentinel process.
func (s *Sentinel) client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr(), MaxRetries: -1})
}

// waitReplica waits until the sentinel lists replica as a healthy replica
// of the master.
func (s *Sentinel) waitReplica(ctx context.Context, replica string) error {
	sc := s.client()
	defer sc.Close()
	var last any
	for {
		reps, err := sc.Replicas(ctx, SentinelMaster).Result()
		last = err
		if err == nil {
			last = reps
			for _, r := range reps {
				if net.JoinHostPort(r["ip"], r["port"]) == replica && r["flags"] == "slave" && r["master-link-status"] == "ok" {
					return nil
				}
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sentinel %s does not list %s as a healthy replica (last answer %v): %s", s.Sentinel.Addr(), replica, last, s.Sentinel.logTail())
		}
		pause(ctx, 20*time.Millisecond)
	}
}

// waitSynced waits until master lists replica as online (after a diskless
// full sync the master streams writes only once the replica has
// acknowledged it, up to a second later) and the replica has processed the
// master's whole replication stream.
func waitSynced(ctx context.Context, master, replica string) error {
	mc := redis.NewClient(&redis.Options{Addr: master, MaxRetries: -1})
	defer mc.Close()
	rc := redis.NewClient(&redis.Options{Addr: replica, MaxRetries: -1})
	defer rc.Close()
	var mi, ri string
	for {
		mi, _ = mc.Info(ctx, "replication").Result()
		ri, _ = rc.Info(ctx, "replication").Result()
		host, port, _ := net.SplitHostPort(replica)
		online := strings.Contains(mi, "ip="+host+",port="+port+",state=online")
		moff, rOff := infoField(mi, "master_repl_offset"), infoField(ri, "slave_repl_offset")
		if online && moff != "" && moff == rOff {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("replica %s not in sync with master %s (master: %q; replica: %q)", replica, master, mi, ri)
		}
		pause(ctx, 20*time.Millisecond)
	}
}

// infoField returns the value of field in an INFO reply, or "".
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitRole polls ROLE on addr until its first element is role.
func waitRole(ctx context.Context, addr, role string) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	var last any
	for {
		v, err := cl.Do(ctx, "ROLE").Slice()
		last = err
		if err == nil && len(v) > 0 {
			last = v[0]
			if v[0] == role {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: ROLE is %v, want %s", addr, last, role)
		}
		pause(ctx, 50*time.Millisecond)
	}
}

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
