package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fullStatus is a /v1/status answer with every field the CLI shows,
// including the overrides and pending write-backs of the leader.
const fullStatus = `{
  "sync": {"source":"https://git.example/flags.git","branch":"main","commit":"8d41c07a55aa","published":"8d41c07a55aa",
           "last_sync":"2026-11-21T10:00:00Z",
           "last_error":{"commit":"0b974f8952de","at":"2026-11-21T09:58:00Z","message":"loading revision 0b974f8952de: invalid: 7 errors",
                         "problems":["flags/x.yaml:3:5: rules[0].serve","flags/x.yaml:9:7: default","flags/y.yaml:1:1: key",
                                     "flags/y.yaml:2:1: name","flags/y.yaml:3:1: type","flags/y.yaml:4:1: variants"],"problem_count":7}},
  "environments": {
    "production": {"version":"8d41c07a55aa-2","loaded_at":"2026-11-21T10:00:01Z","flags":12,"sse_clients":340,"next_clock_change":"2026-12-01T09:00:00Z"},
    "staging":    {"version":"8d41c07a55aa","loaded_at":"2026-11-21T10:00:01Z","flags":1,"sse_clients":1,"load_error":"compiling rule set: boom"}
  },
  "ready": true,
  "overrides": [
    {"environment":"production","flag":"checkout-v2","serve":"off","reason":"5xx spike","by":"alice","at":"2026-11-21T10:00:00Z",
     "expires":"2026-11-21T12:00:00Z","source":"layer","writeback":"pending"}
  ],
  "writeback": {"pending":[{"environment":"production","flag":"checkout-v2","action":"set","since":"2026-11-21T10:00:00Z",
                            "attempts":3,"last_error":"pushing to https://git.example/flags.git: push rejected"}]},
  "bearers": [
    {"id":"web-1-42-0a1b2c3d","host":"web-1","address":"10.0.0.5:8080","version":"v1.4.0","started":"2026-11-21T09:00:00Z",
     "last_seen":"2026-11-21T10:29:58Z","stale":false,
     "environments":{"production":{"version":"8d41c07a55aa-2","streams":{"sdk":3,"evaluated":2,"ofrep":1}}}},
    {"id":"web-2-7-99887766","address":"10.0.0.6:8080","version":"v1.3.9","started":"2026-11-21T08:00:00Z",
     "last_seen":"2026-11-21T10:29:40Z","stale":true,"environments":{},"environments_omitted":2}
  ],
  "breakers": {"leading": true, "flags": [
    {"environment":"production","flag":"checkout-v2","state":"recovering","counts":{"success":300,"failure":1,"slow":0},
     "error_rate":0.3,"slow_rate":0,"threshold":5,"slow_threshold":50,"min_requests":30,"window":"60s",
     "recovery_cap":30,"next_step":"2026-11-21T10:08:00Z","at":"2026-11-21T10:07:30Z"}]}
}`

func TestStatusText(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(fullStatus))
	}))
	t.Cleanup(srv.Close)

	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	var st statusDoc
	if err := json.Unmarshal([]byte(fullStatus), &st); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printStatus(&b, srv.URL, &st, now)
	out := b.String()
	for _, want := range []string{
		"source:      https://git.example/flags.git branch main",
		"commit:      8d41c07a55aa\n",
		"last sync:   2026-11-21T10:00:00Z (30m ago)",
		"last error:  commit 0b974f8952de, 2026-11-21T09:58:00Z (32m ago), 7 problems",
		"flags/x.yaml:3:5: rules[0].serve",
		"… and 2 more (flagpole validate lists them all)",
		"production  8d41c07a55aa-2  12 flags  340 SSE clients",
		"load error: compiling rule set: boom",
		"next clock change 2026-12-01T09:00:00Z",
		"production/checkout-v2  serves off  expires 2026-11-21T12:00:00Z (in 1h30m)  by alice  5xx spike",
		"production/checkout-v2  set  since 2026-11-21T10:00:00Z (30m ago)  3 attempts  last error: pushing to",
		"web-1-42-0a1b2c3d  10.0.0.5:8080  v1.4.0  last seen 2026-11-21T10:29:58Z (2s ago)\n",
		"production  8d41c07a55aa  streams: 3 SDK, 2 evaluated, 1 OFREP",
		"web-2-7-99887766  10.0.0.6:8080  v1.3.9  last seen 2026-11-21T10:29:40Z (20s ago) STALE",
		"… and 2 more environments",
		"production/checkout-v2  recovering  errors 0.3% of 301 calls in 60s (trips at 5%)  slow 0.0% (trips at 50%)  cap 30%  next step 2026-11-21T10:08:00Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "flags/y.yaml:4:1") {
		t.Errorf("more than %d problems listed:\n%s", maxProblems, out)
	}

	// Through the command: FLAGPOLE_SERVER, the token sent, json passed through.
	r := runCLI(t, map[string]string{"FLAGPOLE_SERVER": srv.URL, adminTokenEnv: testAdminToken}, "status", "--format", "json")
	if r.code != exitOK || strings.TrimSpace(r.stdout) != strings.TrimSpace(fullStatus) {
		t.Errorf("json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if auth != "Bearer "+testAdminToken {
		t.Errorf("Authorization %q", auth)
	}
	r = runCLI(t, map[string]string{"FLAGPOLE_SERVER": srv.URL}, "status")
	if r.code != exitOK || !strings.Contains(r.stdout, "pending write-backs:") || auth != "" {
		t.Errorf("text: exit %d, auth %q\n%s%s", r.code, auth, r.stdout, r.stderr)
	}
}

func TestStatusUsageAndErrors(t *testing.T) {
	r := runCLI(t, nil, "status")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--server URL (or FLAGPOLE_SERVER) is required") {
		t.Errorf("no server: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, nil, "status", "--server", "ftp://x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "must be an http(s) URL") {
		t.Errorf("bad server: exit %d\n%s", r.code, r.stderr)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusServiceUnavailable, "not_leader", "standby", "leader", "http://10.0.0.7:8081")
	}))
	t.Cleanup(srv.Close)
	r = runCLI(t, nil, "status", "--server", srv.URL)
	if r.code != exitFailure || !strings.Contains(r.stderr, "--server http://10.0.0.7:8081") {
		t.Errorf("not leader: exit %d\n%s", r.code, r.stderr)
	}
}

// exampleFlags counts the flag files of flags.example.
func exampleFlags(t *testing.T) int {
	entries, err := os.ReadDir(filepath.Join(exampleRepo(t), "flags"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestStatusAgainstServe reads the status of a real flagpole serve: the
// fields that exist there today.
func TestStatusAgainstServe(t *testing.T) {
	d := startDaemon(t, "serve", "--repo", exampleRepo(t))
	waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	version := versionOf(t, d)
	// production answering does not mean staging is loaded too.
	waitFor(t, "both environments loaded", func() bool {
		envs, _ := status(t, d)["environments"].(map[string]any)
		return envs["production"] != nil && envs["staging"] != nil
	})

	r := runCLI(t, nil, "status", "--server", d.url)
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, re := range []string{
		`(?m)^ready:\s+yes$`,
		`(?m)^source:\s+` + regexp.QuoteMeta(exampleRepo(t)) + `$`,
		`(?m)^commit:\s+` + regexp.QuoteMeta(version),
		`(?m)^last sync:\s+\d{4}-\d\d-\d\dT`,
		`(?m)^last error:\s+none$`,
		`(?m)^  production\s+` + regexp.QuoteMeta(version) + `\s+` + strconv.Itoa(exampleFlags(t)) + ` flags\s+\d+ SSE clients\s+loaded `,
		`(?m)^  staging\s+`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("status does not match %s:\n%s", re, r.stdout)
		}
	}

	r = runCLI(t, map[string]string{"FLAGPOLE_SERVER": d.url}, "status", "--format", "json")
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != exitOK || err != nil || st["ready"] != true {
		t.Errorf("json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	// Without a key: no bearers (their addresses are not for anyone).
	if _, ok := st["bearers"]; ok || strings.Contains(r.stdout, "address") {
		t.Errorf("anonymous status lists bearers:\n%s", r.stdout)
	}
	// With the demo viewer key: serve's own bearer, from the store.
	addr := strings.TrimPrefix(d.url, "http://")
	want := regexp.MustCompile(`(?m)^  \S+-\d+-[0-9a-f]{8}  ` + regexp.QuoteMeta(addr) + `  \S+  last seen \d{4}-`)
	waitFor(t, "the bearer in the viewer's status", func() bool {
		r = runCLI(t, map[string]string{"FLAGPOLE_SERVER": d.url, adminTokenEnv: demoViewerKey}, "status")
		return r.code == exitOK && want.MatchString(r.stdout) &&
			regexp.MustCompile(`(?m)^    production\s+`+regexp.QuoteMeta(abbrev(version))+`\s+streams: 0 SDK`).MatchString(r.stdout)
	})
}
