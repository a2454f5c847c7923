package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Targets and shape of the scale-out scenario (BENCHMARKS.md).
const (
	scaleOutTarget  = 250 * time.Millisecond // edit → every client, p99
	scaleOutBearers = 4
	scaleOutStreams = 5000
	scaleOutMasters = 3
)

// runScaleOut runs `flagpole sync` and 4 `flagpole bearer`s on a 3-master
// Redis Cluster with a generated repository of -flags flags (10,000 when
// -flags is under 1,000; the target is stated for 100,000), opens 5,000 raw
// SSE streams spread over the bearers — resuming at the current version
// with Last-Event-ID, so that none downloads the whole rule set — and
// times -rounds one-file edits until every stream has the patch.
func runScaleOut(ctx context.Context, cfg *config) ([]*report, error) {
	limit, err := raiseNoFile()
	if err != nil {
		return nil, err
	}
	if limit < scaleOutStreams+512 {
		return nil, fmt.Errorf("%d streams need %d open files; the limit is %d", scaleOutStreams, scaleOutStreams+512, limit)
	}
	repo, flags, cleanup, err := scaleRepo(cfg, "scale-out")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	nodes, url, err := startCluster(ctx, &g, scaleOutMasters)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	syn, err := startFlagpole(cfg.bin, "flagpole sync", "sync", "--repo", repo, "--redis", url)
	if err != nil {
		return nil, err
	}
	g.add(syn)
	var bearers []*proc
	for i := range scaleOutBearers {
		// All streams come from this process, with one key.
		b, err := startFlagpole(cfg.bin, fmt.Sprintf("flagpole bearer %d", i+1), "bearer", "--redis", url,
			"--max-streams-per-addr", "10000", "--max-streams-per-key", "10000", "--max-conns-per-addr", "10000")
		if err != nil {
			return nil, err
		}
		bearers = append(bearers, g.add(b))
	}
	for _, b := range bearers {
		if err := waitReadyWithin(ctx, b.URL(), 10*time.Minute); err != nil {
			return nil, fmt.Errorf("%s: %w%s", b.name, err, aliveNote(&g))
		}
	}
	ready := time.Since(start)
	version, err := etagVersion(bearers[0].URL())
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", bearers[0].name, err, aliveNote(&g))
	}
	statusStart := time.Now()
	_, statusErr := servedVersion(bearers[0].URL())
	statusTook := time.Since(statusStart)

	var f fleet
	defer f.close()
	f.readers = make([]*sseReader, scaleOutStreams)
	connStart := time.Now()
	for i := range scaleOutStreams {
		b := bearers[i%len(bearers)]
		s, err := dialStreamFrom(b.addr, prodServerKey, version, cfg.wait)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w%s", i+1, err, aliveNote(&g))
		}
		f.readers[i] = s
		f.wg.Add(1)
		go f.read(i, s)
		if ctx.Err() != nil {
			return nil, errInterrupted
		}
	}
	connDur := time.Since(connStart)
	if err := sleep(ctx, fanoutSettleTime); err != nil {
		return nil, err
	}

	atRest := make([]memSample, len(bearers))
	for i, b := range bearers {
		atRest[i] = sampleMemory(b)
	}

	r := newReport(fmt.Sprintf("scale-out: flagpole sync + %d bearers on a %d-master Redis Cluster, %d generated flags, %d SSE streams", scaleOutBearers, scaleOutMasters, flags, scaleOutStreams))
	r.add("start → ready", "%s (sync loads and publishes, every bearer reads one snapshot)", ms(ready))
	r.add("GET /v1/status", "%s after %s", errText(statusErr), ms(statusTook))
	r.add("connect", "%d streams resumed at version %s (no put) in %.2f s", scaleOutStreams, version, connDur.Seconds())
	tog := &toggler{path: filepath.Join(repo, "flags", "gen-flag-001.yaml")}
	if tog.original, err = os.ReadFile(tog.path); err != nil {
		return nil, err
	}
	var all []time.Duration
	var edits []time.Time
	for i := range cfg.rounds {
		edits = append(edits, time.Now())
		lat, err := f.measure(ctx, tog.write, cfg.wait)
		r.latency(fmt.Sprintf("edit %d → every stream", i+1), lat)
		all = append(all, lat...)
		if err != nil {
			return []*report{r}, fmt.Errorf("edit %d: %w%s", i+1, err, aliveNote(&g))
		}
		if err := sleep(ctx, time.Second); err != nil {
			return []*report{r}, err
		}
	}
	q := r.latency("all edits, all streams", all)
	// The syncer's own part: its log line per publish says how long the
	// load and publish took (the last ones are the edits').
	var took []string
	for _, line := range strings.Split(syn.Logs(), "\n") {
		if strings.Contains(line, "sync: published") {
			if _, t, ok := strings.Cut(line, "took="); ok {
				took = append(took, strings.Fields(t)[0])
			}
		}
	}
	r.add("syncer load + publish", "%s (the first is the cold load; from its log)", strings.Join(took, ", "))
	for i, at := range edits {
		r.add(fmt.Sprintf("edit %d timeline", i+1), "%s", timeline(at, syn, bearers))
	}
	r.add("events", "%d patch and %d put events; %d streams ended early", f.patches.Load(), f.puts.Load(), f.dropped.Load())
	r.memory(syn)
	for i, b := range bearers {
		r.memory(b)
		end := sampleMemory(b)
		gc := "GC percent not sized"
		for _, line := range strings.Split(b.Logs(), "\n") {
			if _, v, ok := strings.Cut(line, "live_heap_mib="); ok {
				gc = "sized: live_heap_mib=" + v
			}
		}
		r.add("  "+b.name+" detail", "RSS %s, Go heap in use %s after connecting; RSS %s, heap in use %s after the edits; %s",
			mib(int64(atRest[i].rss)), mib(int64(atRest[i].heap)), mib(int64(end.rss)), mib(int64(end.heap)), gc)
	}
	for _, n := range nodes {
		if used, err := usedMemory(ctx, n.addr); err == nil {
			clients, _ := infoInt(ctx, n.addr, "clients", "connected_clients")
			r.add("memory "+n.name, "used_memory %s; %d connected clients (one is this report's)", mib(used), clients)
		}
	}
	r.target("edit → every client p99", "BENCHMARKS.md", q.p99 <= scaleOutTarget, ms(q.p99))
	return []*report{r}, nil
}

// timeline says when, after an edit written at at, the syncer logged its
// publish and each bearer logged loading the new version (from their
// logs' times, millisecond precision), so that a slow edit shows which
// process took the time.
func timeline(at time.Time, syn *proc, bearers []*proc) string {
	first := func(p *proc, msg string) string {
		for _, line := range strings.Split(p.Logs(), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err == nil && !t.Before(at.Truncate(time.Millisecond)) {
				return fmt.Sprintf("%.0f", t.Sub(at).Seconds()*1000)
			}
		}
		return "?"
	}
	parts := []string{"sync published +" + first(syn, `msg="sync: published"`) + " ms", "bearers loaded"}
	for _, b := range bearers {
		parts = append(parts, "+"+first(b, `msg="loaded rule set"`))
	}
	return strings.Join(parts, " ") + " ms"
}

// etagVersion returns the version of production a bearer serves, from
// the ETag of GET /v1/flags with If-None-Match: * (a 304: nothing is
// encoded). /v1/status, which servedVersion asks, ended the connection
// without an answer at 100,000 flags (reported as its own row).
func etagVersion(base string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/v1/flags", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+prodServerKey)
	req.Header.Set("If-None-Match", "*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	v := strings.Trim(resp.Header.Get("ETag"), `"`)
	if resp.StatusCode != http.StatusNotModified || v == "" {
		return "", fmt.Errorf("GET /v1/flags with If-None-Match: * = %s, ETag %q; want 304 and the version", resp.Status, v)
	}
	return v, nil
}

// errText is err's text, or "ok".
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// servedVersion returns the version of production a bearer serves.
func servedVersion(base string) (string, error) {
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		Environments map[string]struct {
			Version string `json:"version"`
		} `json:"environments"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", fmt.Errorf("decoding /v1/status: %w", err)
	}
	v := st.Environments["production"].Version
	if v == "" {
		return "", fmt.Errorf("/v1/status names no production version")
	}
	return v, nil
}
