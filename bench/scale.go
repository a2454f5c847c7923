package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Targets of the scale scenario (BENCHMARKS.md).
const (
	scaleEditTarget = 100 * time.Millisecond // one-file edit → published
	scaleRSSTarget  = 150 << 20              // serve RSS holding 10,000 flags
)

// runScale starts `flagpole serve` on a generated repository of -flags
// flags (default 10,000 here), reports its load time and memory, then times
// -edits one-file edits (a generated flag toggled, renamed into place) from
// just before the write until a raw SSE stream has the patch.
func runScale(ctx context.Context, cfg *config) ([]*report, error) {
	repo, flags, cleanup, err := scaleRepo(cfg, "scale")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	start := time.Now()
	srv, err := startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo)
	if err != nil {
		return nil, err
	}
	g.add(srv)
	if err := waitReadyWithin(ctx, srv.URL(), 5*time.Minute); err != nil {
		return nil, err
	}
	loaded := time.Since(start)
	r := newReport(fmt.Sprintf("scale: flagpole serve on %d generated flags and flags.example's (directory source, memory store)", flags))
	r.add("start → ready", "%s (process start, first load of every file, compile, serve)", ms(loaded))
	// Let the first load's garbage go before reading the resting size.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return nil, err
	}
	r.memory(srv)
	rssReady, _ := srv.RSS()

	stream, err := dialStream(srv.addr, prodServerKey, cfg.wait)
	if err != nil {
		return nil, err
	}
	defer stream.close()
	if ev, err := stream.next(); err != nil || ev.name != "put" {
		return nil, fmt.Errorf("first stream event: %+v, %v; want put", ev, err)
	}
	tog := &toggler{path: filepath.Join(repo, "flags", "gen-flag-001.yaml")}
	if tog.original, err = os.ReadFile(tog.path); err != nil {
		return nil, err
	}
	edits := min(cfg.edits, 100)
	var lat []time.Duration
	for range edits {
		if err := sleep(ctx, cfg.gap); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := tog.write(); err != nil {
			return nil, err
		}
		for {
			if err := stream.conn.SetReadDeadline(time.Now().Add(cfg.wait)); err != nil {
				return nil, err
			}
			ev, err := stream.next()
			if err != nil {
				return nil, fmt.Errorf("waiting for the patch: %w", err)
			}
			if ev.name == "patch" {
				break
			}
		}
		lat = append(lat, time.Since(t0))
		if err := g.checkAlive(); err != nil {
			return nil, err
		}
	}
	q := r.latency("edit → patch on a stream", lat)
	r.add("note", "includes the directory source's 10 ms debounce and the SSE write; %d ms gap between edits", cfg.gap.Milliseconds())
	r.memory(srv)
	r.target("one-file edit → published, p99", "BENCHMARKS.md", q.p99 <= scaleEditTarget, ms(q.p99))
	if flags == 10000 {
		r.target("serve RSS holding 10,000 flags, after the first load settles", "BENCHMARKS.md", rssReady <= scaleRSSTarget, mib(rssReady))
	}
	return []*report{r}, nil
}

// scaleRepo generates, in a temporary directory named after scenario, a
// repository of cfg.flags generated flags (10,000 when fewer than 1,000
// are asked for) plus the example's own, whose flagpole.yaml has triggers
// on them. cleanup removes it.
func scaleRepo(cfg *config, scenario string) (repo string, flags int, cleanup func(), err error) {
	flags = cfg.flags
	if flags < 1000 {
		flags = 10000
	}
	dir, cleanup, err := tempDir(scenario)
	if err != nil {
		return "", 0, nil, err
	}
	repo = filepath.Join(dir, "repo")
	if err = generateRepo(cfg.example, repo, flags); err == nil {
		err = copyDir(filepath.Join(cfg.example, "flags"), filepath.Join(repo, "flags"))
	}
	if err != nil {
		cleanup()
		return "", 0, nil, err
	}
	return repo, flags, cleanup, nil
}
