package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/sdk"
)

// breakerFlag is the flag the breaker end-to-end tests guard: on for
// everyone, with a breaker quick enough for a test. The recovery's delay
// is shorter than the window: the calls that tripped the flag are still in
// the window when the ramp starts, and must not trip it again.
const (
	breakerFlag     = "fast-checkout"
	breakerFlagYAML = `key: fast-checkout
name: Fast checkout
description: The new checkout path the breaker end-to-end tests guard.
owner: team-payments
rules:
  - name: everyone
    serve: on
breaker:
  window: 2s
  min_requests: 20
  error_rate: 10
  recovery: {delay: 1s, start: 25, step: 25, every: 1s}
`
)

var (
	reasonRE  = regexp.MustCompile(`breaker: error rate [0-9.]+% \(\d+ of \d+ calls in 2s\) ≥ 10%`)
	startAtRE = regexp.MustCompile(`start_at: "?([0-9TZ:-]+)`)
)

// breakerRepo is the example repository with breakerFlag and one
// Slack-format receiver (its URL as ${TEST_SLACK_URL}). The example's
// override of checkout-v2 is a person's, which the breaker never touches,
// so the only commits and messages are breakerFlag's.
func breakerRepo(t *testing.T) *gitRepo {
	g := newGitRepo(t)
	g.setNotify("  - url: ${TEST_SLACK_URL}\n    format: slack\n")
	g.write("flags/"+breakerFlag+".yaml", breakerFlagYAML)
	g.commit("a flag with a quick breaker and a Slack receiver")
	return g
}

// guardedLoad calls sdk.Guard on breakerFlag from each client, for users
// u-0 … u-99 in turn, until the test ends. The new path fails while
// failing is set; the old path always succeeds.
type guardedLoad struct {
	failing atomic.Bool
	calls   atomic.Int64 // runs of the new path
}

func startGuardedLoad(t *testing.T, clients []*sdk.Client) *guardedLoad {
	l := &guardedLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	errNew := errors.New("new path failed")
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			newPath := func(context.Context) (string, error) {
				l.calls.Add(1)
				if l.failing.Load() {
					return "", errNew
				}
				return "new", nil
			}
			oldPath := func(context.Context) (string, error) { return "old", nil }
			for i := 0; ctx.Err() == nil; i++ {
				_, _ = sdk.Guard(c, ctx, breakerFlag, sdk.Context{"key": fmt.Sprintf("u-%d", i%100)}, newPath, oldPath)
				time.Sleep(2 * time.Millisecond) // the pace of the load, not a wait for a result
			}
		}()
	}
	return l
}

// newBreakerClients starts n SDK clients on url with the production server
// key, reporting outcomes every interval, and waits until each has a rule
// set.
func newBreakerClients(t *testing.T, url string, n int, interval time.Duration) []*sdk.Client {
	var out []*sdk.Client
	for range n {
		c, err := sdk.New(ctxT(t), sdk.Options{URL: url, Key: prodServerKey, ReconnectMax: time.Second, MetricsInterval: interval})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		<-c.Ready()
		out = append(out, c)
	}
	return out
}

// allServe reports whether every client serves breakerFlag as want for
// users u-0 … u-99.
func allServe(clients []*sdk.Client, want bool) bool {
	for _, c := range clients {
		for i := range 100 {
			if c.Bool(breakerFlag, sdk.Context{"key": fmt.Sprintf("u-%d", i)}, !want) != want {
				return false
			}
		}
	}
	return true
}

// statusBreaker returns d's status entry for breakerFlag in production,
// nil when none.
func statusBreaker(t *testing.T, d *daemon) map[string]any {
	b, _ := status(t, d)["breakers"].(map[string]any)
	list, _ := b["flags"].([]any)
	for _, it := range list {
		if m, _ := it.(map[string]any); m["flag"] == breakerFlag && m["environment"] == "production" {
			return m
		}
	}
	return nil
}

// kinds returns the bodies of the messages of kind received.
func (r *notifyReceiver) kinds(kind string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if m.kind == kind {
			out = append(out, string(m.body))
		}
	}
	return out
}

// TestBreakerEndToEnd runs the breaker's whole chain on the real binary
// without a command typed: SDK clients guard a flag whose new path starts
// failing; within 2 s every client serves off; the trip lands in git with
// the figures and the recovery plan, is announced once and shows in the
// status; once the path works again the ramp brings the flag back step by
// step and a "recovered" commit removes the override.
func TestBreakerEndToEnd(t *testing.T) {
	g := breakerRepo(t)
	slack := newNotifyReceiver(t, "")
	d := startDaemonEnv(t, []string{"TEST_SLACK_URL=" + slack.srv.URL},
		"serve", "--repo", g.bare, "--poll", "1s", "--breaker-interval", "200ms")
	clients := newBreakerClients(t, d.url, 3, 250*time.Millisecond)
	if !allServe(clients, true) {
		t.Fatal("the flag is not on for everyone before the failures")
	}
	load := startGuardedLoad(t, clients)
	trip := checkBreakerTrip(t, g, d, clients, load, slack)
	checkBreakerRecovery(t, g, d, clients, load, slack, trip)
}

// checkBreakerRecovery checks the recovery once the new path works again: the cap rises 25, 50, 75 in d's status, every client serves on
// again, a "recovered" commit removes the override file, one recover
// message.
func checkBreakerRecovery(t *testing.T, g *gitRepo, d *daemon, clients []*sdk.Client, load *guardedLoad, slack *notifyReceiver, trip tripSeen) {
	t.Helper()
	// The path works again; the ramp starts at the override's start_at and
	// grows by the clock until the breaker removes its override.
	commits := g.remoteCommits()
	var caps []float64
	waitFor(t, "the ramp to 100%", func() bool {
		s := statusBreaker(t, d)
		if s == nil {
			return false
		}
		if c, _ := s["recovery_cap"].(float64); s["state"] == "recovering" && (len(caps) == 0 || caps[len(caps)-1] != c) {
			caps = append(caps, c)
		}
		return s["state"] == "closed" && len(caps) > 0
	})
	t.Logf("recovery caps seen: %v", caps)
	for i, c := range caps {
		if c != float64(25*(i+1)) {
			t.Errorf("recovery caps %v, want 25, 50, 75 in turn", caps)
			break
		}
	}
	if len(caps) != 3 {
		t.Errorf("recovery caps %v, want 25, 50, 75", caps)
	}
	waitFor(t, "every client serves on again", func() bool { return allServe(clients, true) })
	waitFor(t, "the recovered commit", func() bool { return g.remoteCommits() == commits+1 })
	msg := g.git(g.bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{
		"override: clear " + breakerFlag + " in production (breaker: recovered",
		"Reason: breaker: recovered (25% to 100% of users from " + trip.startAt + ")",
		"Requested-by: breaker",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("recovered commit lacks %q:\n%s", want, msg)
		}
	}
	if files := g.git(g.bare, "ls-tree", "-r", "--name-only", "main", "overrides/production/"); strings.Contains(files, breakerFlag) {
		t.Errorf("the override file is still in git: %s", files)
	}
	waitFor(t, "the recover message", func() bool { return len(slack.kinds("recover")) == 1 })
	if m := slack.kinds("recover")[0]; !strings.Contains(m, "Breaker recovered: "+breakerFlag+" in production") {
		t.Errorf("recover message: %s", m)
	}
	if n := len(slack.kinds("trip")); n != 1 {
		t.Errorf("%d trip messages in all, want one", n)
	}
}

// tripSeen is what checkBreakerTrip saw of the trip.
type tripSeen struct {
	startAt string // the recovery's start_at, RFC 3339
}

// checkBreakerTrip waits until d, the process running the breaker, has
// counted successes, makes the new path fail and checks the trip: every
// client serves off within 2 s (then the path works again), one commit with the figures and the plan,
// one trip message, the status's open state.
func checkBreakerTrip(t *testing.T, g *gitRepo, d *daemon, clients []*sdk.Client, load *guardedLoad, slack *notifyReceiver) tripSeen {
	t.Helper()
	waitFor(t, "successful calls counted", func() bool {
		s := statusBreaker(t, d)
		c, _ := s["counts"].(map[string]any)
		return s != nil && s["state"] == "closed" && c["success"].(float64) >= 20
	})
	commits := g.remoteCommits()
	load.failing.Store(true)
	took := withinTime(t, "every client serves off after the failures start", 2*time.Second, func() bool { return allServe(clients, false) })
	t.Logf("every client served off %s after the failures started", took)
	// The failures stop (the ramp, 1 s on, will find the path working) and
	// the breaker shows the trip until then.
	load.failing.Store(false)
	if s := statusBreaker(t, d); s == nil || s["state"] != "open" || s["threshold"] != float64(10) || s["window"] != "2s" || s["next_step"] == nil {
		t.Errorf("status while open: %v", s)
	}

	waitFor(t, "the trip's commit", func() bool { return g.remoteCommits() == commits+1 })
	msg := g.git(g.bare, "log", "-1", "--format=%B", "main")
	file := g.git(g.bare, "show", "main:overrides/production/"+breakerFlag+".yaml")
	for _, want := range []string{"override: " + breakerFlag + " off in production (breaker: error rate ", "By: breaker", "Requested-by: breaker"} {
		if !strings.Contains(msg, want) {
			t.Errorf("trip commit lacks %q:\n%s", want, msg)
		}
	}
	// The reason states the rate and counts: "error rate 37.5% (30 of 80
	// calls in 2s) ≥ 10%", in the commit and the file.
	reason := reasonRE.FindString(file)
	if reason == "" || !strings.Contains(msg, reason) {
		t.Errorf("override file's reason %q not in the commit:\n%s\n%s", reason, file, msg)
	}
	for _, want := range []string{"serve: \"off\"", "by: breaker", "start: 25", "step: 25", "every: 1s", "start_at: "} {
		if !strings.Contains(file, want) && !strings.Contains(file, strings.ReplaceAll(want, `"`, "")) {
			t.Errorf("override file lacks %q:\n%s", want, file)
		}
	}
	startAt := startAtRE.FindStringSubmatch(file)
	if startAt == nil {
		t.Fatalf("no start_at in the override file:\n%s", file)
	}
	waitFor(t, "the trip message", func() bool { return len(slack.kinds("trip")) == 1 })
	if m := slack.kinds("trip")[0]; !strings.Contains(m, "Breaker tripped: "+breakerFlag+" serves off in production") || !strings.Contains(m, reason) {
		t.Errorf("trip message lacks the title or %q: %s", reason, m)
	}
	t.Logf("trip: %s; override file:\n%s", reason, file)
	return tripSeen{startAt: startAt[1]}
}

// TestBreakerSplitEndToEnd is the same on a split deployment: flagpole
// sync (the write-back and the notifications), a bearer (the SDKs and
// their outcome counts) and flagpole breaker, sharing a real Redis.
func TestBreakerSplitEndToEnd(t *testing.T) {
	redis := redistest.Start(t)
	g := breakerRepo(t)
	slack := newNotifyReceiver(t, "")
	startDaemonEnv(t, []string{"TEST_SLACK_URL=" + slack.srv.URL}, "sync", "--repo", g.bare, "--redis", redis.URL(), "--poll", "1s")
	br := startDaemon(t, "bearer", "--redis", redis.URL())
	waitFor(t, "the bearer to load", func() bool { return versionOf(t, br) != "" })
	brk := startDaemon(t, "breaker", "--redis", redis.URL(), "--interval", "200ms")
	waitFor(t, "the breaker to lead", func() bool { return strings.Contains(brk.Logs(), "breaker: leading") })
	clients := newBreakerClients(t, br.url, 3, 250*time.Millisecond)
	load := startGuardedLoad(t, clients)
	trip := checkBreakerTrip(t, g, brk, clients, load, slack)
	checkBreakerRecovery(t, g, brk, clients, load, slack, trip)
}
