package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/store"
)

// outcome is what every surface must agree on for one evaluation.
type outcome struct {
	Value    any            `json:"value"`
	Variant  string         `json:"variant"`
	Reason   string         `json:"reason"`
	Metadata map[string]any `json:"metadata"`
}

func (o outcome) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// TestClockFlagsAgreeEverywhere evaluates the example flags with a
// prerequisite (express-checkout), a ramp (search-ranking-v3) and a
// schedule (winter-theme) at fixed times through the Go SDK, POST
// /v1/evaluate, OFREP and `flagpole eval --at`, and requires the same value,
// variant, reason and metadata from all four. The SDK and the bearer share
// a fake clock; the CLI gets the time with --at.
func TestClockFlagsAgreeEverywhere(t *testing.T) {
	dir := exampleRepo(t)
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	times := []string{
		"2026-11-30T12:00:00Z", // before the ramp and the schedule
		"2026-12-01T09:00:00Z", // ramp starts at 5%; winter theme on
		"2026-12-05T10:00:00Z", // ramp at 25%
		"2026-12-24T06:00:00Z", // second schedule step: a rule for AU and NZ
		"2027-02-01T00:00:00Z", // ramp at 100%; winter theme off again
	}
	start, _ := time.Parse(time.RFC3339, times[0])
	// An hour early: the SDK's retries, if its first attempt fails, wait on
	// this clock, which is advanced in small steps until it connects.
	clk := clockwork.NewFakeClockAt(start.Add(-time.Hour))
	st := store.NewMemory()
	for env, doc := range repo.Documents {
		snap := &store.Snapshot{Environment: env, Version: doc.Version, Document: doc, Keys: repo.Settings.Keys, Published: time.Now()}
		if err := st.Publish(context.Background(), snap); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := bearer.New(bearer.Options{Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; ts.Close() })
	waitHTTP(t, ts.URL+"/readyz")

	client, err := sdk.New(ctx, sdk.Options{URL: ts.URL, Key: prodServerKey, Clock: clk, InitTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for client.Version() == "" {
		if time.Now().After(deadline) || !clk.Now().Before(start) {
			t.Fatal("the SDK got no rule set from a ready bearer")
		}
		clk.Advance(sdk.DefaultReconnectMax / 100)
		time.Sleep(5 * time.Millisecond)
	}

	// The release binary: a -race one takes about a second to start on a
	// loaded machine, and the CLI runs once per flag, time and context.
	bin, err := releaseBinary()
	if err != nil {
		t.Fatal(err)
	}
	contexts := []string{`{"key":"user-1","country":"NZ"}`, `{"key":"user-2","country":"US"}`, `{"key":"audrey","beta":true}`, `{"key":"user-7"}`}
	flags := []string{"express-checkout", "search-ranking-v3", "winter-theme"}
	seen := map[string]map[string]bool{}
	for _, at := range times {
		now, _ := time.Parse(time.RFC3339, at)
		clk.Advance(now.Sub(clk.Now()))
		for _, c := range contexts {
			var attrs map[string]any
			if err := json.Unmarshal([]byte(c), &attrs); err != nil {
				t.Fatal(err)
			}
			evaluated := postJSON[struct{ Flags map[string]outcome }](t, ts.URL+"/v1/evaluate", fmt.Sprintf(`{"context":%s}`, c))
			ofrepCtx := strings.Replace(c, `"key"`, `"targetingKey"`, 1)
			for _, key := range flags {
				d := client.Evaluate(key, sdk.Context(attrs))
				viaSDK := outcome{d.Value, d.Variant, d.Reason.String(), d.Metadata}
				viaOFREP := postJSON[outcome](t, ts.URL+"/ofrep/v1/evaluate/flags/"+key, fmt.Sprintf(`{"context":%s}`, ofrepCtx))
				if viaOFREP.Metadata["version"] != client.Version() {
					t.Errorf("%s at %s: OFREP metadata %v lacks the version %s", key, at, viaOFREP.Metadata, client.Version())
				}
				delete(viaOFREP.Metadata, "version")
				r := runBinary(t, bin, "", nil, "eval", dir, "--flag", key, "--at", at, "--context", c, "--format", "json")
				if r.code != exitOK {
					t.Fatalf("eval --at %s: exit %d: %s", at, r.code, r.stderr)
				}
				var viaCLI outcome
				if err := json.Unmarshal([]byte(r.stdout), &viaCLI); err != nil {
					t.Fatalf("eval output %q: %v", r.stdout, err)
				}
				want := viaSDK.String()
				for name, got := range map[string]outcome{"/v1/evaluate": evaluated.Flags[key], "OFREP": viaOFREP, "eval --at": viaCLI} {
					if got.String() != want {
						t.Errorf("%s at %s for %s: %s gives %s, the SDK %s", key, at, c, name, got, want)
					}
				}
				if seen[key] == nil {
					seen[key] = map[string]bool{}
				}
				seen[key][viaSDK.Variant+"/"+viaSDK.Reason] = true
			}
		}
	}
	// The times and contexts must exercise what the flags do.
	for key, want := range map[string][]string{
		"express-checkout":  {"on/DEFAULT", "off/PREREQUISITE_FAILED"},
		"search-ranking-v3": {"on/SPLIT", "off/SPLIT", "on/TARGETING_MATCH"},
		"winter-theme":      {"classic/DISABLED", "snow/DEFAULT", "classic/TARGETING_MATCH"},
	} {
		for _, w := range want {
			if !seen[key][w] {
				t.Errorf("%s never gave %s (gave %v)", key, w, seen[key])
			}
		}
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// postJSON posts body with the production server key and decodes the answer.
func postJSON[T any](t *testing.T, url, body string) T {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+prodServerKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST %s: %v: %s", url, err, b)
	}
	return v
}
