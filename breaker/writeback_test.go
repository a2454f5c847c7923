package breaker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/recorder"
	"github.com/flagpole/flagpole/loader/writeback"
)

// TestRunnerTripLandsInGit: the Runner's trip, written to the layer only,
// becomes an override file committed to a real git remote by the leader's
// recorder, with the figures in the file and the commit message.
func TestRunnerTripLandsInGit(t *testing.T) {
	g := gitrepo.New(t)
	g.CommitPush(map[string]string{"README": "flags\n"}, "initial")
	f := newRunnerFixture(t)
	rec := gitRecorder(t, g, recorder.Options{Store: f.st,
		Settings: func() (loader.Settings, bool) { return loader.Settings{}, true }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	f.failTick(t, f.runner(t))
	f.wantTrip(t, "no trip in the layer")
	var file string
	var err error
	waitFor(t, "the override file on the remote", func() bool {
		file, err = g.Run("-C", g.Bare, "show", "main:overrides/production/checkout.yaml")
		return err == nil
	})
	for _, want := range []string{"serve: off", "by: breaker", "error rate 50.0% (50 of 100 calls in 60s) ≥ 5%",
		"start_at: 2026-11-21T10:05:00Z"} {
		if !strings.Contains(file, want) {
			t.Errorf("override file lacks %q:\n%s", want, file)
		}
	}
	if msg := g.Git("-C", g.Bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Requested-by: breaker") {
		t.Errorf("commit message:\n%s", msg)
	}
}

// gitRecorder is the leader's recorder of opts (Store and Settings set),
// writing back to g's main branch and checking every 20 ms.
func gitRecorder(t *testing.T, g *gitrepo.Remote, opts recorder.Options) *recorder.Recorder {
	t.Helper()
	opts.NewWriter = func(wb loader.Writeback, onLanded func(writeback.Landed)) (*writeback.Writer, error) {
		rem, err := gitx.NewRemote(gitx.Options{URL: g.Bare})
		if err != nil {
			return nil, err
		}
		return writeback.New(writeback.Options{Remote: rem, CacheDir: t.TempDir(), Branch: "main",
			Author: wb.Author, OnLanded: onLanded})
	}
	opts.CheckInterval = 20 * time.Millisecond
	rec, err := recorder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
