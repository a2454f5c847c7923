package syncer_test

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store/redisstore"
)

// proxy forwards TCP connections to a target until cut, which drops every
// connection and refuses new ones: a network partition.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) url() string {
	return "redis://" + p.ln.Addr().String() + "/0?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms"
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestLeaderPartitionedHandsOver cuts the leader off from Redis without
// letting it release the lock: it must stop acting once it cannot renew,
// and the standby must take over when the lock expires.
func TestLeaderPartitionedHandsOver(t *testing.T) {
	srv := redistest.Start(t)
	ttl := time.Second
	px := startProxy(t, srv.Addr())
	mk := func(url, desc string, reg prometheus.Registerer) (*syncer.Syncer, *redisstore.Redis) {
		st, err := redisstore.New(t.Context(), url, redisstore.Options{LockTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		root := filepath.Join(t.TempDir(), "repo")
		writeFiles(t, root, goodRepo(desc))
		src, _ := source.NewDir(root, source.DirOptions{})
		s, err := syncer.New(syncer.Options{Source: src, Store: st, Locker: st, Registerer: reg, Logger: testLogger(t), CheckInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s, st
	}
	regA := prometheus.NewRegistry()
	a, _ := mk(px.url(), "from-a", regA)
	b, stb := mk(srv.URL(), "from-b", nil)
	runSyncer(t, a)
	waitFor(t, "a publishes", hasDesc(stb, "production", "from-a"))
	runSyncer(t, b)

	px.cut()
	cut := time.Now()
	waitFor(t, "a stops acting", func() error {
		if v := counter(t, regA, "flagpole_sync_leader", ""); v != 0 {
			return errors.New("a still leads")
		}
		return nil
	})
	waitFor(t, "b takes over", hasDesc(stb, "production", "from-b"))
	t.Logf("after the partition: takeover in %s (lock TTL %s)", time.Since(cut), ttl)
}
