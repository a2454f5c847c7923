package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flagpole/flagpole/sdk"
)

// overrideTarget is BENCHMARKS.md's bound on admin override → SDKs, with
// the git remote up or down.
const overrideTarget = 100 * time.Millisecond

// benchAdminToken is the FLAGPOLE_ADMIN_TOKEN of the bench's server.
const benchAdminToken = "bench-admin-token"

// overrideFlag is the flag the override scenario sets and clears.
const overrideFlag = "checkout-v2"

// runOverride measures admin PUT → SDK subscription under flagpole serve
// on a git remote, with the remote reachable (each PUT is also committed
// and pushed) and then renamed away (each PUT waits in the write-back).
func runOverride(ctx context.Context, cfg *config) ([]*report, error) {
	dir, repo, cleanup, err := gitScenario(cfg, "override")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	var srv *proc
	err = withAdminToken(func() (err error) {
		srv, err = startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo.Bare,
			"--poll", "1s", "--cache-dir", filepath.Join(dir, "cache"))
		return err
	})
	if err != nil {
		return nil, err
	}
	g.add(srv)
	c, err := sdk.New(ctx, sdk.Options{URL: srv.URL(), Key: prodServerKey, InitTimeout: startTimeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	served := make(chan string, 64)
	unsub := c.Subscribe(func(sdk.Change) {
		if doc := c.Document(); doc != nil {
			if o := doc.Overrides[overrideFlag]; o != nil {
				served <- o.Serve
				return
			}
		}
		served <- ""
	})
	defer unsub()
	client := &http.Client{Timeout: 10 * time.Second}

	measure := func() ([]time.Duration, error) {
		lat := make([]time.Duration, 0, cfg.edits)
		for i := range cfg.edits {
			want := []string{"off", "on"}[i%2]
			start := time.Now()
			if err := put(client, srv.URL(), want, i); err != nil {
				return lat, err
			}
			t := time.NewTimer(cfg.wait)
		wait:
			for {
				select {
				case s := <-served:
					if s == want {
						break wait
					}
				case <-t.C:
					return lat, fmt.Errorf("override %d: SDK did not see serve %s within %s%s", i+1, want, cfg.wait, aliveNote(&g))
				case <-ctx.Done():
					return lat, errInterrupted
				}
			}
			t.Stop()
			lat = append(lat, time.Since(start))
			if err := sleep(ctx, cfg.gap); err != nil {
				return lat, err
			}
		}
		return lat, nil
	}
	r := newReport("override: admin PUT /v1/admin/overrides → SDK subscription (flagpole serve --repo <bare remote>)")
	r.add("setup", "1 SDK client, %d PUTs alternating serve off/on of %s, %s gap", cfg.edits, overrideFlag, cfg.gap)
	up, err := measure()
	qUp := r.latency("remote up (each PUT committed and pushed)", up)
	if err != nil {
		return []*report{r}, err
	}
	away := repo.Bare + ".away"
	if err := os.Rename(repo.Bare, away); err != nil {
		return []*report{r}, err
	}
	down, err := measure()
	qDown := r.latency("remote down (write-back pending)", down)
	if rerr := os.Rename(away, repo.Bare); err == nil {
		err = rerr
	}
	r.memory(srv)
	if len(up) > 0 && len(down) > 0 {
		r.target("p99 ≤ 100 ms", "BENCHMARKS.md, override through a server, remote up", qUp.p99 <= overrideTarget, ms(qUp.p99))
		r.target("p99 ≤ 100 ms", "same, remote down", qDown.p99 <= overrideTarget, ms(qDown.p99))
	}
	return []*report{r}, err
}

// withAdminToken runs start with FLAGPOLE_ADMIN_TOKEN set to
// benchAdminToken in the environment that the processes it starts inherit.
func withAdminToken(start func() error) error {
	os.Setenv("FLAGPOLE_ADMIN_TOKEN", benchAdminToken)
	defer os.Unsetenv("FLAGPOLE_ADMIN_TOKEN")
	return start()
}

// put sets the override of overrideFlag in production to serve.
func put(client *http.Client, url, serve string, i int) error {
	body := fmt.Sprintf(`{"serve":%q,"reason":"bench %d"}`, serve, i+1)
	req, err := http.NewRequest(http.MethodPut, url+"/v1/admin/overrides/production/"+overrideFlag, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchAdminToken)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("PUT override: %w", err)
	}
	defer resp.Body.Close()
	var ans map[string]any
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ans)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT override: status %d: %v", resp.StatusCode, ans)
	}
	return nil
}
