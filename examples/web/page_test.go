// Package web holds the browser example (index.html); its test runs the
// page's own SSE reader and context encoder under Node against a real
// bearer.
package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/store"
)

// nodeScript loads encodeContext and readEvents from index.html, reads the
// first put of GET /v1/stream/evaluated and prints its data.
const nodeScript = `
const fs = require("fs");
const [, page, url, key, ctx] = process.argv;
const src = fs.readFileSync(page, "utf8").match(/<script>([\s\S]*)<\/script>/)[1];
const grab = (name) => src.match(new RegExp("(?:async )?function " + name + "\\([\\s\\S]*?\\n}\\n"))[0];
eval(grab("encodeContext") + grab("readEvents"));
(async () => {
  const ac = new AbortController();
  const resp = await fetch(url + "/v1/stream/evaluated?context=" + encodeContext(JSON.parse(ctx)),
    { headers: { Authorization: "Bearer " + key }, signal: ac.signal });
  if (!resp.ok) { console.log("status " + resp.status); process.exit(2); }
  await readEvents(resp.body, (ev) => {
    if (ev.type === "put") { console.log(ev.data); process.exit(0); }
  }, ac.signal);
})().catch((e) => { console.error(e); process.exit(3); });
`

func TestPageReadsEvaluatedStream(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	repo, err := loader.Load("../../flags.example", loader.Options{})
	if err != nil {
		t.Fatalf("loading flags.example: %v", err)
	}
	const key = "fp_cli_test_page_0123456789abcdef"
	sum := sha256.Sum256([]byte(key))
	st := store.NewMemory()
	prod := repo.Documents["production"]
	err = st.Publish(context.Background(), &store.Snapshot{
		Environment: "production", Version: prod.Version, Document: prod, Published: time.Now(),
		Keys: []store.Key{{Name: "page", Environment: "production", Kind: store.KeyClient, SHA256: hex.EncodeToString(sum[:])}},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := startBearer(t, st)

	page, _ := filepath.Abs("index.html")
	ctx := `{"key": "juan", "state": "CA", "student": true, "country": "US", "note": "ünïcode"}`
	ctxRun, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctxRun, node, "-e", nodeScript, "--", page, url, key, ctx).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node: %v\nstdout: %s\nstderr: %s", err, out, ee.Stderr)
		}
		t.Fatalf("node: %v", err)
	}
	var got struct {
		Version string `json:"version"`
		Flags   map[string]struct {
			Value  any    `json:"value"`
			Reason string `json:"reason"`
		} `json:"flags"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	if got.Version != prod.Version {
		t.Errorf("version %q, want %q", got.Version, prod.Version)
	}
	for k := range got.Flags {
		if f := prod.Flags.Get(k); f == nil || !f.Client {
			t.Errorf("client key saw flag %q, which is not client: true", k)
		}
	}
	if b := got.Flags["west-coast-student-banner"]; b.Value != true {
		t.Errorf("west-coast-student-banner for a CA student = %+v, want true", b)
	}
}

func startBearer(t *testing.T, st store.Store) string {
	srv, err := bearer.New(bearer.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &http.Server{Handler: srv.Handler()}
	done := make(chan struct{}, 2)
	go func() { _ = srv.Run(ctx); done <- struct{}{} }()
	go func() { _ = hs.Serve(ln); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		_ = hs.Close()
		<-done
		<-done
	})
	return "http://" + ln.Addr().String()
}
