package syncer_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// benchDebounce is the directory source's debounce in the benchmark; it is
// subtracted from the reported directory latencies.
const benchDebounce = 10 * time.Millisecond

// BenchmarkPropagation measures change → new version in the store, one
// change per iteration; run it with -benchtime 200x (or more) for stable
// percentiles:
//
//	go test -run '^$' -bench Propagation -benchtime 200x ./loader/syncer/
//
// dir: an atomic file replace until the last environment's new version is
// announced by the store's Watch; p50-ms and p99-ms exclude the 10 ms
// debounce. git-webhook: `git push` to a bare remote plus a signed webhook
// POST, until the same announcement (the commit itself is not timed).
func BenchmarkPropagation(b *testing.B) {
	stores := map[string]func(b *testing.B) store.Store{
		"memory": func(*testing.B) store.Store { return store.NewMemory() },
		"redis": func(b *testing.B) store.Store {
			srv := redistest.Start(b)
			st, err := redisstore.New(b.Context(), srv.URL(), redisstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		},
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run("dir/"+name, func(b *testing.B) { benchDir(b, stores[name](b), benchRepo("start")) })
		b.Run("git-webhook/"+name, func(b *testing.B) { benchGit(b, stores[name](b), benchRepo("start")) })
	}
}

// benchRepo is a small realistic repository: 50 flags.
func benchRepo(desc string) map[string]string {
	files := goodRepo(desc)
	for i := range 50 {
		key := fmt.Sprintf("flag-%02d", i)
		files["flags/"+key+".yaml"] = fmt.Sprintf("key: %s\nenabled: true\ndefault: on\nrules:\n  - users: [u%d]\n    serve: off\n", key, i)
	}
	return files
}

func benchDir(b *testing.B, st store.Store, files map[string]string) {
	root := filepath.Join(b.TempDir(), "repo")
	writeFiles(b, root, files)
	src, err := source.NewDir(root, source.DirOptions{Debounce: benchDebounce, Settle: -1}) // the pipeline, without the settle of in-place writes
	if err != nil {
		b.Fatal(err)
	}
	s, err := syncer.New(syncer.Options{Source: src, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	changes, err := st.Watch(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	runSyncer(b, s)
	waitFirst(b, changes)
	lat := measure(b, changes, func(i int) {
		writeFiles(b, root, map[string]string{"flags/alpha.yaml": fmt.Sprintf("key: alpha\ndescription: change %d\nenabled: true\ndefault: on\n", i)})
	})
	report(b, lat, benchDebounce)
}

func benchGit(b *testing.B, st store.Store, files map[string]string) {
	r := newGitRemote(b)
	r.commitPush(files, "start")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, WorkDir: b.TempDir(), Logger: benchLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	s, err := syncer.New(syncer.Options{Source: src, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	changes, err := st.Watch(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	runSyncer(b, s)
	waitFirst(b, changes)
	hook := httptest.NewServer(syncer.NewWebhookHandler(syncer.WebhookOptions{Secret: hookSecret, Branch: "main", Trigger: s.Trigger}))
	b.Cleanup(hook.Close)
	body := []byte(`{"ref":"refs/heads/main"}`)
	sig := "sha256=" + sign(hookSecret, string(body))
	var pending int
	var pushes []time.Duration
	lat := measure(b, changes, func(i int) {
		if i != pending {
			b.Fatalf("change %d was not committed", i)
		}
		start := time.Now()
		r.git(r.work, "push", "--quiet", "origin", "main")
		pushes = append(pushes, time.Since(start))
		req, _ := http.NewRequest("POST", hook.URL+"/v1/hooks/git", bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
	}, func(i int) {
		// Untimed: prepare the next commit.
		writeFiles(b, r.work, map[string]string{"flags/alpha.yaml": fmt.Sprintf("key: alpha\ndescription: change %d\nenabled: true\ndefault: on\n", i)})
		r.git(r.work, "commit", "--quiet", "-am", fmt.Sprintf("change %d", i))
		pending = i
	})
	report(b, lat, 0)
	// The git CLI's push alone, to tell it from fetch, load and publish.
	slices.Sort(pushes)
	b.ReportMetric(float64(pushes[len(pushes)/2])/float64(time.Millisecond), "push-p50-ms")
	b.ReportMetric(float64(pushes[min(len(pushes)-1, len(pushes)*99/100)])/float64(time.Millisecond), "push-p99-ms")
}

// waitFirst waits for the first publish, which may be of a large
// repository.
func waitFirst(b *testing.B, changes <-chan store.Change) {
	b.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case c := <-changes:
			if c.Environment == "staging" || c.Resync {
				return
			}
		case <-timeout:
			b.Fatal("no first publish within 2 minutes")
		}
	}
}

// waitLast waits for the store to announce staging, the last environment
// published.
func waitLast(b *testing.B, changes <-chan store.Change) {
	b.Helper()
	timeout := time.After(eventually)
	for {
		select {
		case c := <-changes:
			if c.Environment == "staging" || c.Resync {
				return
			}
		case <-timeout:
			b.Fatal("no publish within", eventually)
		}
	}
}

// measure times change(i) until the store announces it, b.N times. prepare,
// if given, runs untimed before each change.
func measure(b *testing.B, changes <-chan store.Change, change func(int), prepare ...func(int)) []time.Duration {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for _, p := range prepare {
			p(i)
		}
		b.StartTimer()
		start := time.Now()
		change(i)
		waitLast(b, changes)
		lat = append(lat, time.Since(start))
		if d := time.Since(start); os.Getenv("FLAGPOLE_BENCH_DEBUG") != "" && d > 300*time.Millisecond {
			b.Logf("change %d took %s", i, d)
		}
	}
	b.StopTimer()
	return lat
}

// report adds p50 and p99 (minus subtract) in milliseconds.
func report(b *testing.B, lat []time.Duration, subtract time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		d := lat[min(len(lat)-1, int(float64(len(lat))*p))] - subtract
		return float64(d) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "changes")
}

// benchLogger logs to the benchmark output when FLAGPOLE_BENCH_DEBUG is set.
func benchLogger(b *testing.B) *slog.Logger {
	if os.Getenv("FLAGPOLE_BENCH_DEBUG") == "" {
		return nil
	}
	return testLogger(b)
}
