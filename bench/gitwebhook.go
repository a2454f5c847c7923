package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

// Targets of the git scenario: BENCHMARKS.md (push + webhook → SDK) and the sync table there (push + webhook → published)
// (push + webhook → published, which the SDK seeing it implies).
const (
	gitTargetDesign = time.Second
	gitTargetIssue  = 500 * time.Millisecond
)

// webhookSecret signs the bench's deliveries; it is a throwaway value.
const webhookSecret = "bench-webhook-secret"

// pushBody is the webhook payload: a push to main.
const pushBody = `{"ref":"refs/heads/main"}`

// newGitRepo makes a bare remote under dir and a work tree holding a copy
// of example, committed and pushed to main.
func newGitRepo(dir, example string) (*gitrepo.Remote, error) {
	r, err := gitrepo.Create(dir)
	if err != nil {
		return nil, err
	}
	if err := copyDir(example, r.Work); err != nil {
		return nil, fmt.Errorf("copying %s: %w", example, err)
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"commit", "-q", "-m", "flags.example"},
		{"push", "-q", "origin", "main"},
	} {
		if _, err := r.Run(args...); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// gitScenario makes a temporary directory for scenario holding a bare
// remote with the example repository; cleanup removes it.
func gitScenario(cfg *config, scenario string) (dir string, repo *gitrepo.Remote, cleanup func(), err error) {
	dir, cleanup, err = tempDir(scenario)
	if err != nil {
		return "", nil, nil, err
	}
	if repo, err = newGitRepo(dir, cfg.example); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	return dir, repo, cleanup, nil
}

// deliver posts a signed push webhook and checks that it was accepted.
func deliver(client *http.Client, url string) error {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte(pushBody))
	req, err := http.NewRequest(http.MethodPost, url+"/v1/hooks/git", bytes.NewReader([]byte(pushBody)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST /v1/hooks/git: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /v1/hooks/git: status %d, want 202: %s", resp.StatusCode, body)
	}
	return nil
}

// runGitWebhook measures commit + git push to a bare remote + signed
// webhook → SDK subscription, under flagpole serve following the remote
// with polling effectively off.
func runGitWebhook(ctx context.Context, cfg *config) ([]*report, error) {
	dir, repo, cleanup, err := gitScenario(cfg, "git-webhook")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	tog, err := newToggler(repo.Work)
	if err != nil {
		return nil, err
	}
	var g group
	defer g.stopAll()
	srv, err := startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo.Bare,
		"--poll", "1h", "--webhook-secret", webhookSecret, "--cache-dir", filepath.Join(dir, "cache"))
	if err != nil {
		return nil, err
	}
	g.add(srv)
	w, err := newWatcher(ctx, srv.URL(), prodServerKey)
	if err != nil {
		return nil, err
	}
	defer w.close()

	client := &http.Client{Timeout: 10 * time.Second}
	var pushLat, hookLat []time.Duration
	lat, err := measureChanges(ctx, cfg, []*watcher{w}, &g, func(i int) (time.Time, error) {
		start := time.Now()
		if err := tog.write(); err != nil {
			return start, err
		}
		if _, err := repo.Run("commit", "-q", "-a", "-m", fmt.Sprintf("bench: toggle %s (%d)", watchedFlag, i+1)); err != nil {
			return start, err
		}
		if _, err := repo.Run("push", "-q", "origin", "main"); err != nil {
			return start, err
		}
		pushed := time.Now()
		pushLat = append(pushLat, pushed.Sub(start))
		err := deliver(client, srv.URL())
		hookLat = append(hookLat, time.Since(pushed))
		return start, err
	})
	r := newReport("git-webhook: commit + git push + signed webhook → SDK subscription (flagpole serve --repo <bare> --poll 1h)")
	r.add("setup", "git CLI work tree pushing to a bare remote; 1 SDK client; %s gap", cfg.gap)
	q := r.latency("end to end", lat)
	r.latency("  commit+push", pushLat)
	r.latency("  webhook call", hookLat)
	if len(lat) == len(pushLat) {
		after := make([]time.Duration, len(lat))
		for i := range lat {
			after[i] = lat[i] - pushLat[i]
		}
		r.latency("push done → SDK", after)
	}
	r.memory(srv)
	if len(lat) > 0 {
		r.target("p99 ≤ 1 s", "BENCHMARKS.md, push + webhook → SDK", q.p99 <= gitTargetDesign, ms(q.p99))
		r.target("p99 ≤ 500 ms", "push + webhook → published; measured here to the SDK", q.p99 <= gitTargetIssue, ms(q.p99))
	}
	return []*report{r}, err
}
