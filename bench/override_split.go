package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

// benchTriggerToken is flags.example's demo trigger (DEMO-KEYS.md): it
// turns checkout-v2 off in production, and a resolved alert clears it.
const benchTriggerToken = "fp_trg_prod_e66a3d3fe683a00c29bb6e13cf1670d0"

// leaderRE is the log line of a syncer that took the leader lock.
var leaderRE = regexp.MustCompile(`leader lock acquired()`)

// runOverrideSplit measures, on a split deployment (redis-server +
// flagpole sync on a bare git remote + 2 × flagpole bearer, one SDK on
// each bearer): the CLI `flagpole override set --server` process → both
// SDKs, with the remote up and then renamed away; the leader's write-back
// from the layer set to the commit on the remote; and a trigger POST on a
// bearer → both SDKs.
func runOverrideSplit(ctx context.Context, cfg *config) ([]*report, error) {
	dir, repo, cleanup, err := gitScenario(cfg, "override-split")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	// The bearers inherit the token too; they do not use it.
	var rds, syn *proc
	var bearers []*proc
	var ws []*watcher
	err = withAdminToken(func() (err error) {
		rds, syn, bearers, ws, err = startSplit(ctx, cfg, &g, "--repo", repo.Bare, "--poll", "1s", "--cache-dir", filepath.Join(dir, "cache"))
		return err
	})
	defer closeAll(ws)
	if err != nil {
		return nil, err
	}
	// Admin writes go to the leader: wait until the syncer is one (waitLog
	// records the line's empty group as the address; keep the real one).
	addr := syn.addr
	if err := syn.waitLog(leaderRE, startTimeout); err != nil {
		return nil, err
	}
	syn.addr = addr

	r := newReport("override-split: flagpole override set (CLI process) → both SDKs (redis-server + flagpole sync --repo <bare remote> + 2 × flagpole bearer)")
	r.add("setup", "one SDK client per bearer, latency = the later of the two; %d runs per case alternating --serve off/on of %s, %s gap",
		cfg.edits, overrideFlag, cfg.gap)
	starts, err := processStarts(cfg)
	if err != nil {
		return []*report{r}, err
	}
	r.latency("flagpole version (process start + exit alone)", starts)

	head := remoteHead(repo)
	up, err := measureCLI(ctx, cfg, ws, &g, syn.URL(), head)
	qUp := r.latency("remote up: CLI start → both SDKs", up.lat)
	r.latency("  CLI process (start → exit)", up.wall)
	r.latency("write-back: CLI exit (layer set) → commit on the remote", up.landed)
	if err != nil {
		return []*report{r}, err
	}

	before := head()
	away := repo.Bare + ".away"
	if err := os.Rename(repo.Bare, away); err != nil {
		return []*report{r}, err
	}
	down, err := measureCLI(ctx, cfg, ws, &g, syn.URL(), nil)
	qDown := r.latency("remote down: CLI start → both SDKs", down.lat)
	r.latency("  CLI process (start → exit)", down.wall)
	back := time.Now()
	if rerr := os.Rename(away, repo.Bare); err == nil {
		err = rerr
	}
	if err == nil {
		var moved time.Time
		if moved, err = untilMoved(ctx, cfg, head, before); err == nil {
			r.add("remote back → pending write-back on the remote", "%s (the write-back's retry backoff, 1 s doubling to 15 s, dominates)", ms(moved.Sub(back)))
		}
	}
	if err != nil {
		return []*report{r}, err
	}

	trig, err := measureTrigger(ctx, cfg, ws, &g, bearers)
	qTrig := r.latency("trigger POST on a bearer → both SDKs (alternately firing/resolved)", trig)
	for _, p := range append([]*proc{syn}, append(bearers, rds)...) {
		r.memory(p)
	}
	if len(up.lat) > 0 && len(down.lat) > 0 {
		r.target("p99 ≤ 100 ms", "BENCHMARKS.md, CLI override → SDKs, remote up (process start included)", qUp.p99 <= overrideTarget, ms(qUp.p99))
		r.target("p99 ≤ 100 ms", "same, remote down", qDown.p99 <= overrideTarget, ms(qDown.p99))
	}
	if len(trig) > 0 {
		r.target("p99 ≤ 100 ms", "trigger → SDKs", qTrig.p99 <= overrideTarget, ms(qTrig.p99))
	}
	return []*report{r}, err
}

// processStarts times `flagpole version` runs: what starting the CLI
// process costs by itself.
func processStarts(cfg *config) ([]time.Duration, error) {
	var d []time.Duration
	for range min(cfg.edits, 50) {
		start := time.Now()
		if out, err := exec.Command(cfg.bin, "version").CombinedOutput(); err != nil {
			return d, fmt.Errorf("flagpole version: %w\n%s", err, out)
		}
		d = append(d, time.Since(start))
	}
	return d, nil
}

// remoteHead returns a function reading the commit the remote's main
// points at, from its ref file (a git process per poll would load the
// 2 cores).
func remoteHead(repo *gitrepo.Remote) func() string {
	ref := filepath.Join(repo.Bare, "refs", "heads", "main")
	return func() string {
		b, err := os.ReadFile(ref)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
}

// untilMoved polls head every millisecond until it is no longer from and
// returns when it saw it move.
func untilMoved(ctx context.Context, cfg *config, head func() string, from string) (time.Time, error) {
	start := time.Now()
	deadline := start.Add(max(cfg.wait, 3*time.Minute))
	for head() == from {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no commit on the remote within %s", time.Since(start).Round(time.Second))
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
	return time.Now(), nil
}

// drainAll drains every watcher of ws.
func drainAll(ws []*watcher) {
	for _, w := range ws {
		w.drain()
	}
}

// cliRuns is what measureCLI measured, per run.
type cliRuns struct {
	lat    []time.Duration // CLI start → both SDKs
	wall   []time.Duration // CLI start → exit
	landed []time.Duration // CLI exit → commit on the remote
}

// measureCLI runs `flagpole override set` cfg.edits times against the
// leader at server and times each until both SDKs serve it; with head
// (the remote reachable) it also waits for each commit.
func measureCLI(ctx context.Context, cfg *config, ws []*watcher, g *group, server string, head func() string) (cliRuns, error) {
	var runs cliRuns
	for i := range cfg.edits {
		want := []string{"off", "on"}[i%2]
		from := ""
		if head != nil {
			from = head()
		}
		cmd := exec.CommandContext(ctx, cfg.bin, "override", "set", overrideFlag, "--env", "production",
			"--serve", want, "--reason", fmt.Sprintf("bench %d", i+1), "--server", server)
		cmd.Env = append(os.Environ(), "FLAGPOLE_ADMIN_TOKEN="+benchAdminToken, "USER=bench")
		drainAll(ws)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		exited := time.Now()
		if err != nil {
			return runs, fmt.Errorf("run %d: flagpole override set: %w\n%s", i+1, err, out)
		}
		last, err := awaitAll(ctx, cfg, ws, g, fmt.Sprintf("run %d: override serving %s", i+1, want),
			func(s seen) bool { return s.override == want })
		if err != nil {
			return runs, err
		}
		runs.lat = append(runs.lat, last.Sub(start))
		runs.wall = append(runs.wall, exited.Sub(start))
		if head != nil {
			moved, err := untilMoved(ctx, cfg, head, from)
			if err != nil {
				return runs, fmt.Errorf("run %d: %w%s", i+1, err, aliveNote(g))
			}
			runs.landed = append(runs.landed, moved.Sub(exited))
		}
		if err := sleep(ctx, cfg.gap); err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// measureTrigger posts the demo trigger to the bearers in turn, firing
// (the override serves off) then resolved (cleared), and times each until
// both SDKs have it.
func measureTrigger(ctx context.Context, cfg *config, ws []*watcher, g *group, bearers []*proc) ([]time.Duration, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	var lat []time.Duration
	for i := range cfg.edits {
		status, want := "firing", "off"
		if i%2 == 1 {
			status, want = "resolved", ""
		}
		body := fmt.Sprintf(`{"status":%q,"commonAnnotations":{"summary":"bench %d"}}`, status, i+1)
		drainAll(ws)
		start := time.Now()
		resp, err := client.Post(bearers[i%len(bearers)].URL()+"/v1/triggers/"+benchTriggerToken, "application/json", strings.NewReader(body))
		if err != nil {
			return lat, fmt.Errorf("trigger %d: %w", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return lat, fmt.Errorf("trigger %d: status %d", i+1, resp.StatusCode)
		}
		last, err := awaitAll(ctx, cfg, ws, g, fmt.Sprintf("trigger %d (%s)", i+1, status),
			func(s seen) bool { return s.override == want })
		if err != nil {
			return lat, err
		}
		lat = append(lat, last.Sub(start))
		if err := sleep(ctx, cfg.gap); err != nil {
			return lat, err
		}
	}
	if len(lat) == 0 {
		return lat, errors.New("no trigger measured")
	}
	return lat, nil
}
