package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Two bearers with the same FLAGPOLE_EVENT_TOKEN_SECRET accept each
// other's OFREP event stream URLs, as behind a load balancer; a bearer
// with another secret refuses them.
func TestEventTokenSecretShared(t *testing.T) {
	secret := eventTokenSecretEnv + "=" + strings.Repeat("s3cr3t-", 6)
	a := startDaemonEnv(t, []string{secret}, "serve", "--repo", exampleRepo(t))
	b := startDaemonEnv(t, []string{secret}, "serve", "--repo", exampleRepo(t))
	other := startDaemonEnv(t, []string{eventTokenSecretEnv + "=" + strings.Repeat("x", 32)}, "serve", "--repo", exampleRepo(t))
	for _, d := range []*daemon{a, b, other} {
		waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	}
	req, err := http.NewRequest(http.MethodPost, a.url+"/ofrep/v1/evaluate/flags", strings.NewReader(`{"context":{"targetingKey":"juan"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+prodClientKey)
	resp, err := (&http.Client{Timeout: eventually}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bulk struct {
		EventStreams []struct {
			Endpoint struct{ RequestURI string } `json:"endpoint"`
		} `json:"eventStreams"`
	}
	err = json.NewDecoder(resp.Body).Decode(&bulk)
	resp.Body.Close()
	if err != nil || len(bulk.EventStreams) != 1 || bulk.EventStreams[0].Endpoint.RequestURI == "" {
		t.Fatalf("bulk evaluation: %v, event streams %+v", err, bulk.EventStreams)
	}
	uri := bulk.EventStreams[0].Endpoint.RequestURI
	// A stream that opens is cut after its headers: only the status matters.
	streamStatus := func(d *daemon) int {
		c := &http.Client{Timeout: eventually}
		resp, err := c.Get(d.url + uri)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := streamStatus(b); s != http.StatusOK {
		t.Errorf("the other bearer with the same secret answered %d, want 200", s)
	}
	if s := streamStatus(other); s != http.StatusUnauthorized {
		t.Errorf("a bearer with another secret answered %d, want 401", s)
	}
}

// A secret shorter than 32 bytes stops serve at start, naming the variable.
func TestEventTokenSecretTooShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--repo", exampleRepo(t), "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), eventTokenSecretEnv+"=short")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve with a 5-byte secret still ran after %s:\n%s", eventually, out)
	}
	if err == nil || !strings.Contains(string(out), eventTokenSecretEnv) || !strings.Contains(string(out), "at least 32") {
		t.Errorf("serve with a 5-byte secret: %v\n%s", err, out)
	}
}
