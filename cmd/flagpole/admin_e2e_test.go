package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/notify"
	"github.com/flagpole/flagpole/sdk"
)

const (
	e2eAdminToken      = "fp_test_admin_token_5b1f0c"
	e2eStagingAdminKey = "fp_adm_stg_0f2b7c61d4e8a9b3"
	e2eDemoAdminKey    = "fp_adm_all_a3882bfd25ff83085ae78c5131e9e2be"
	e2eDemoTrigger     = "fp_trg_prod_e66a3d3fe683a00c29bb6e13cf1670d0"
	e2eNotifySecret    = "s3cret-for-the-json-receiver"
)

// receiver is a loopback notification webhook that keeps what it gets.
type notifyReceiver struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []notifyMsg
}

type notifyMsg struct {
	kind string
	body []byte
}

// newNotifyReceiver starts a receiver; secret, when set, is checked on each
// message (the signed JSON format).
func newNotifyReceiver(t *testing.T, secret string) *notifyReceiver {
	r := &notifyReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if secret != "" {
			if err := notify.Verify(secret, req.Header, b, time.Now()); err != nil {
				t.Errorf("notification with a bad signature: %v", err)
			}
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, notifyMsg{kind: req.Header.Get(notify.HeaderEvent), body: b})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// overrides returns the bodies of the override events received.
func (r *notifyReceiver) overrides() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if m.kind == "override" {
			out = append(out, string(m.body))
		}
	}
	return out
}

// received is the number of messages of every kind received.
func (r *notifyReceiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func sha256Hex(s string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(s)))
}

// adminRepo is the example repository with two notify receivers (their
// URLs and secret as ${VAR}), an admin key for staging only, and
// checkout-v2 visible to client keys (for OFREP).
func adminRepo(t *testing.T) *gitRepo {
	g := newGitRepo(t)
	g.setNotify(`  - url: ${TEST_SLACK_URL}
    format: slack
  - url: ${TEST_JSON_URL}
    format: json
    secret: ${TEST_NOTIFY_SECRET}
`)
	y := strings.Replace(g.read("flagpole.yaml"), "keys:", `keys:
  - name: oncall-staging
    kind: admin
    environments: [staging]
    sha256: `+sha256Hex(e2eStagingAdminKey), 1)
	g.write("flagpole.yaml", y)
	g.write("flags/checkout-v2.yaml", strings.Replace(g.read("flags/checkout-v2.yaml"), "owner:", "client: true\nowner:", 1))
	g.commit("notify receivers, a staging admin key, checkout-v2 for clients")
	return g
}

// call sends a JSON request and decodes the JSON answer.
func adminCall(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	code, _, b := do(t, method, url, key, rd, http.Header{"Content-Type": {"application/json"}})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, url, code, b)
	}
	return code, m
}

func adminErrorOf(m map[string]any) (code, msg string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	msg, _ = e["message"].(string)
	return code, msg
}

// remoteCommits is the number of commits on the remote's main.
func (g *gitRepo) remoteCommits() int {
	g.t.Helper()
	n, err := strconv.Atoi(g.git(g.bare, "rev-list", "--count", "main"))
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

// ofrepCheckoutVariant evaluates checkout-v2 for user-1 through OFREP with
// the production client key, as a browser or another language would.
func ofrepCheckoutVariant(t *testing.T, d *daemon) string {
	code, m := adminCall(t, http.MethodPost, d.url+"/ofrep/v1/evaluate/flags/checkout-v2", prodClientKey, `{"context":{"targetingKey":"user-1"}}`)
	if code != http.StatusOK {
		return ""
	}
	v, _ := m["variant"].(string)
	return v
}

// withinTime fails the test unless cond holds within d from now.
func withinTime(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	return withinSince(t, what, time.Now(), d, cond)
}

// withinSince fails the test unless cond holds within d of start, and
// returns how long after start it held.
func withinSince(t *testing.T, what string, start time.Time, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	if took > d {
		t.Fatalf("%s: took %s, not within %s", what, took, d)
	}
	return took
}

// statusWritebackPending returns the status's pending write-backs.
func statusWritebackPending(t *testing.T, d *daemon) []any {
	wb, _ := status(t, d)["writeback"].(map[string]any)
	p, _ := wb["pending"].([]any)
	return p
}

// statusCheckoutOverride returns the status's override of checkout-v2 in
// production, nil when none.
func statusCheckoutOverride(t *testing.T, d *daemon) map[string]any {
	ov, _ := status(t, d)["overrides"].(map[string]any)
	list, _ := ov["production"].([]any)
	for _, it := range list {
		if m, _ := it.(map[string]any); m["flag"] == "checkout-v2" {
			return m
		}
	}
	return nil
}

// overrideDriver sets and clears checkout-v2 in production the way an
// on-call engineer would; reason and forDur ("" for none) are the
// override's.
type overrideDriver struct {
	set   func(t *testing.T, d *daemon, reason, forDur string)
	clear func(t *testing.T, d *daemon, reason string)
	// prepare, when set, runs before anything is timed.
	prepare func(t *testing.T)
}

// apiDriver goes through the admin API with raw HTTP.
var apiDriver = overrideDriver{
	set: func(t *testing.T, d *daemon, reason, forDur string) {
		t.Helper()
		body := `{"off":true,"by":"alice","reason":"` + reason + `"`
		if forDur != "" {
			body += `,"for":"` + forDur + `"`
		}
		if code, m := adminCall(t, http.MethodPut, d.url+"/v1/admin/overrides/production/checkout-v2", e2eAdminToken, body+"}"); code != http.StatusOK {
			t.Fatalf("PUT: %d %v", code, m)
		}
	},
	clear: func(t *testing.T, d *daemon, reason string) {
		t.Helper()
		if code, m := adminCall(t, http.MethodDelete, d.url+"/v1/admin/overrides/production/checkout-v2", e2eAdminToken, `{"reason":"`+reason+`"}`); code != http.StatusOK {
			t.Fatalf("DELETE: %d %v", code, m)
		}
	},
}

// cliEnv is the environment of the on-call's shell: the admin token, and
// USER for the default --by.
var cliEnv = []string{adminTokenEnv + "=" + e2eAdminToken, "USER=alice", "FLAGPOLE_SERVER=", "FLAGPOLE_REPO="}

// onCall runs the release flagpole binary in the on-call's shell.
func onCall(t *testing.T, args ...string) result {
	t.Helper()
	bin, err := releaseBinary()
	if err != nil {
		t.Fatal(err)
	}
	return runBinary(t, bin, "", cliEnv, args...)
}

// cliDriver runs the flagpole binary, as the README's "Kill a flag" does.
var cliDriver = overrideDriver{
	prepare: func(t *testing.T) {
		if _, err := releaseBinary(); err != nil {
			t.Fatal(err)
		}
	},
	set: func(t *testing.T, d *daemon, reason, forDur string) {
		t.Helper()
		args := []string{"override", "set", "checkout-v2", "--env", "production", "--off", "--reason", reason, "--server", d.url}
		if forDur != "" {
			args = append(args, "--for", forDur)
		}
		r := onCall(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, `checkout-v2 in production now serves "off"`) {
			t.Fatalf("flagpole override set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	},
	clear: func(t *testing.T, d *daemon, reason string) {
		t.Helper()
		r := onCall(t, "override", "clear", "checkout-v2", "--env", "production", "--reason", reason, "--server", d.url)
		if r.code != 0 || !strings.Contains(r.stdout, "checkout-v2 in production is evaluated by its rules again") {
			t.Fatalf("flagpole override clear: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	},
}

// cliStatus is the text of `flagpole status --server`.
func cliStatus(t *testing.T, d *daemon) string {
	t.Helper()
	r := onCall(t, "status", "--server", d.url)
	if r.code != 0 {
		t.Fatalf("flagpole status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestAdminOverrideEndToEnd is the done-when scenario, through the admin
// API and through the CLI binary: setting an override turns checkout-v2
// off at an SDK and at OFREP within a second, lands as one commit, tells
// each receiver once and shows in `flagpole status`; clearing it undoes it
// the same way; with the remote gone, the effect is immediate and the
// commit lands once when the remote is back.
func TestAdminOverrideEndToEnd(t *testing.T) {
	for _, tt := range []struct {
		name string
		drv  overrideDriver
	}{{"admin API", apiDriver}, {"CLI", cliDriver}} {
		t.Run(tt.name, func(t *testing.T) { overrideEndToEnd(t, tt.drv) })
	}
}

func overrideEndToEnd(t *testing.T, drv overrideDriver) {
	if drv.prepare != nil {
		drv.prepare(t)
	}
	g := adminRepo(t)
	slack, signed := newNotifyReceiver(t, ""), newNotifyReceiver(t, e2eNotifySecret)
	d := startDaemonEnv(t, []string{
		"FLAGPOLE_ADMIN_TOKEN=" + e2eAdminToken, "TEST_SLACK_URL=" + slack.srv.URL,
		"TEST_JSON_URL=" + signed.srv.URL, "TEST_NOTIFY_SECRET=" + e2eNotifySecret,
	}, "serve", "--repo", g.bare, "--poll", "1s")
	waitFor(t, "the rule set", func() bool { return versionOf(t, d) != "" })
	client, err := sdk.New(ctxT(t), sdk.Options{URL: d.url, Key: prodServerKey, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	<-client.Ready()
	user := sdk.Context{"key": "user-1"} // on by the allow list
	if !client.Bool("checkout-v2", user, false) || ofrepCheckoutVariant(t, d) != "on" {
		t.Fatal("checkout-v2 is not on for user-1 before the override")
	}
	// act runs an action and waits, up to one second from its start (the
	// CLI's process start included), for the SDK and OFREP to serve
	// checkout-v2 on or off.
	act := func(what string, action func(), wantOn bool) {
		t.Helper()
		start := time.Now()
		action()
		took := withinSince(t, what+": SDK and OFREP follow", start, time.Second, func() bool {
			return client.Bool("checkout-v2", user, !wantOn) == wantOn && (ofrepCheckoutVariant(t, d) == "on") == wantOn
		})
		t.Logf("%s: SDK and OFREP followed in %s", what, took)
	}
	notes := func(n int) func() bool {
		return func() bool { return len(slack.overrides()) == n && len(signed.overrides()) == n }
	}

	// Set and clear, each checked at the SDK, OFREP, git, receivers, status.
	step := func(name string, action func(), wantOn bool, wantNotes int) {
		t.Helper()
		before := g.remoteCommits()
		act(name, action, wantOn)
		waitFor(t, name+": the commit", func() bool { return g.remoteCommits() == before+1 })
		waitFor(t, name+": one message per receiver", notes(wantNotes))
		waitFor(t, name+": git caught up (the layer entry dropped)", func() bool {
			o := statusCheckoutOverride(t, d)
			return (wantOn && o == nil) || (!wantOn && o != nil && o["source"] == "git")
		})
		if n := g.remoteCommits(); n != before+1 {
			t.Fatalf("%s: %d commits, want exactly one", name, n-before)
		}
		if len(statusWritebackPending(t, d)) != 0 {
			t.Errorf("%s: write-backs still pending: %v", name, statusWritebackPending(t, d))
		}
		out := cliStatus(t, d)
		if shown := strings.Contains(out, "production/checkout-v2  serves off"); shown == wantOn || !strings.Contains(out, "pending write-backs:\n  none") {
			t.Errorf("%s: flagpole status shows:\n%s", name, out)
		}
	}
	step("set", func() { drv.set(t, d, "5xx spike", "") }, false, 1)
	msg := g.git(g.bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{"override: checkout-v2 off in production (5xx spike)", "Reason: 5xx spike", "By: alice", "Requested-by: admin-token"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	if file := g.git(g.bare, "show", "main:overrides/production/checkout-v2.yaml"); !strings.Contains(file, "serve: off") || !strings.Contains(file, "by: alice") {
		t.Errorf("override file:\n%s", file)
	}
	if s := slack.overrides()[0]; !strings.Contains(s, "checkout-v2") || !strings.Contains(s, "alice") {
		t.Errorf("slack message: %s", s)
	}
	step("clear", func() { drv.clear(t, d, "fixed") }, true, 2)
	if msg := g.git(g.bare, "log", "-1", "--format=%s", "main"); msg != "override: clear checkout-v2 in production (fixed)" {
		t.Errorf("clear's commit: %q", msg)
	}

	// The remote goes away: a set, then a clear, each works at once, is
	// announced (without a commit link), waits in the status, and lands
	// exactly once when the remote is back.
	downStep := func(name string, action func(), wantOn bool, wantNotes int) {
		t.Helper()
		before := g.remoteCommits()
		away := g.bare + ".away"
		if err := os.Rename(g.bare, away); err != nil {
			t.Fatal(err)
		}
		act(name, action, wantOn)
		waitFor(t, name+": one more message per receiver", notes(wantNotes))
		wantAction := map[bool]string{false: "set", true: "clear"}[wantOn]
		waitFor(t, name+": a failed write-back attempt in the status", func() bool {
			p := statusWritebackPending(t, d)
			if len(p) != 1 {
				return false
			}
			e, _ := p[0].(map[string]any)
			return e["flag"] == "checkout-v2" && e["action"] == wantAction && e["attempts"].(float64) >= 1 && e["last_error"] != ""
		})
		out := cliStatus(t, d)
		pending := regexp.MustCompile(`production/checkout-v2\s+` + wantAction + `\s+since .*last error: `)
		if strings.Contains(out, "production/checkout-v2  serves off  expires ") == wantOn || !pending.MatchString(out) {
			t.Errorf("%s: flagpole status shows:\n%s", name, out)
		}
		if err := os.Rename(away, g.bare); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+": the commit once the remote is back", func() bool { return g.remoteCommits() == before+1 })
		waitFor(t, name+": git caught up", func() bool {
			o := statusCheckoutOverride(t, d)
			return (wantOn && o == nil) || (!wantOn && o != nil && o["source"] == "git" && o["expires"] != nil)
		})
		if n := g.remoteCommits(); n != before+1 {
			t.Fatalf("%s: %d commits after the remote came back, want exactly one", name, n-before)
		}
	}
	downStep("set with the remote down", func() { drv.set(t, d, "remote down", "2h") }, false, 3)
	downStep("clear with the remote down", func() { drv.clear(t, d, "recovered") }, true, 4)
	if len(slack.overrides()) != 4 || len(signed.overrides()) != 4 {
		t.Errorf("messages: %d slack, %d signed; want 4 each (one per change)", len(slack.overrides()), len(signed.overrides()))
	}
	// The leader counts every delivery (the overrides', and the sync
	// errors' while the remote was away) on its /metrics.
	var metrics string
	waitFor(t, "the deliveries counted on /metrics", func() bool {
		_, _, b := get(t, d.url+"/metrics", "")
		metrics = grepLines(string(b), "flagpole_notify_events_total")
		want := fmt.Sprintf(`flagpole_notify_events_total{result="delivered"} %d`, slack.received()+signed.received())
		return strings.Contains(metrics, want)
	})
	t.Logf("/metrics:\n%s", metrics)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAdminAPIRefusals covers what the admin API and triggers refuse, and
// the triggers' actions.
func TestAdminAPIRefusals(t *testing.T) {
	g := adminRepo(t)
	d := startDaemonEnv(t, []string{"FLAGPOLE_ADMIN_TOKEN=" + e2eAdminToken}, "serve", "--repo", g.bare, "--poll", "1s")
	waitFor(t, "the rule set", func() bool { return versionOf(t, d) != "" })
	base := d.url + "/v1/admin/overrides"
	tests := []struct {
		name, method, path, key, body string
		code                          int
		errCode, inMessage            string
	}{
		{"unknown flag", "PUT", "/production/nope", e2eAdminToken, `{"off":false,"serve":"on","reason":"r"}`, 400, "bad_request", `flag: unknown flag "nope"`},
		{"unknown variant", "PUT", "/production/checkout-v2", e2eAdminToken, `{"serve":"purple","reason":"r"}`, 400, "bad_request", `serve: unknown variant "purple"`},
		{"unknown environment", "PUT", "/moon/checkout-v2", e2eAdminToken, `{"off":true,"reason":"r"}`, 400, "bad_request", `environment: unknown environment "moon"`},
		{"missing reason", "PUT", "/production/checkout-v2", e2eAdminToken, `{"off":true}`, 400, "bad_request", "reason: required"},
		{"long reason", "PUT", "/production/checkout-v2", e2eAdminToken, `{"off":true,"reason":"` + strings.Repeat("x", 1001) + `"}`, 400, "bad_request", "reason: 1001 bytes"},
		{"for and expires", "PUT", "/production/checkout-v2", e2eAdminToken, `{"off":true,"reason":"r","for":"1h","expires":"2030-01-01T00:00:00Z"}`, 400, "bad_request", "for: give expires or for"},
		{"expiry in the past", "PUT", "/production/checkout-v2", e2eAdminToken, `{"off":true,"reason":"r","expires":"2020-01-01T00:00:00Z"}`, 400, "bad_request", "expires:"},
		{"unknown field", "PUT", "/production/checkout-v2", e2eAdminToken, `{"off":true,"reason":"r","colour":1}`, 400, "bad_request", "colour"},
		{"body too large", "PUT", "/production/checkout-v2", e2eAdminToken, `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "65536"},
		{"missing key", "GET", "", "", "", 401, "unauthorized", "missing"},
		{"wrong key", "PUT", "/production/checkout-v2", "fp_wrong", `{"off":true,"reason":"r"}`, 401, "unauthorized", "unknown"},
		{"SDK key", "GET", "", prodServerKey, "", 403, "forbidden", "not an admin key"},
		{"staging key on production", "PUT", "/production/checkout-v2", e2eStagingAdminKey, `{"off":true,"reason":"r"}`, 403, "forbidden", "production"},
		{"staging key lists production", "GET", "?env=production", e2eStagingAdminKey, "", 403, "forbidden", "production"},
		{"clear without override", "DELETE", "/staging/checkout-v2", e2eDemoAdminKey, "", 404, "not_found", "no override"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := adminCall(t, tt.method, base+tt.path, tt.key, tt.body)
			ec, msg := adminErrorOf(m)
			if code != tt.code || ec != tt.errCode || !strings.Contains(msg, tt.inMessage) {
				t.Errorf("%d %s %q; want %d %s containing %q", code, ec, msg, tt.code, tt.errCode, tt.inMessage)
			}
		})
	}
	// Nothing was written: no override in the layer.
	code, m := adminCall(t, "GET", base, e2eAdminToken, "")
	if code != 200 {
		t.Fatalf("GET: %d %v", code, m)
	}
	for _, o := range m["overrides"].([]any) {
		if o.(map[string]any)["source"] != "git" {
			t.Errorf("a refused request wrote %v", o)
		}
	}
	if code, m := adminCall(t, "GET", base, e2eStagingAdminKey, ""); code != 200 || len(m["overrides"].([]any)) != 0 {
		t.Errorf("staging key's list: %d %v (the production override must be left out)", code, m)
	}
	if code, _, _ := get(t, d.url+"/v1/flags", e2eDemoAdminKey); code != 403 {
		t.Errorf("admin key on an SDK endpoint: %d, want 403", code)
	}

	t.Run("triggers", func(t *testing.T) {
		code, m := adminCall(t, "POST", d.url+"/v1/triggers/fp_trg_prod_wrong", "", `{}`)
		if ec, _ := adminErrorOf(m); code != 404 || ec != "not_found" {
			t.Fatalf("wrong token: %d %v", code, m)
		}
		variant := func() string { return ofrepCheckoutVariant(t, d) }
		firing := `{"status":"firing","commonAnnotations":{"summary":"checkout 5xx above 5%"}}`
		if code, m := adminCall(t, "POST", d.url+"/v1/triggers/"+e2eDemoTrigger, "", firing); code != 200 || m["action"] != "off" {
			t.Fatalf("firing: %d %v", code, m)
		}
		withinTime(t, "firing turns the flag off", time.Second, func() bool { return variant() == "off" })
		code, m = adminCall(t, "GET", base+"?env=production", e2eDemoAdminKey, "")
		o := m["overrides"].([]any)[0].(map[string]any)
		if code != 200 || o["by"] != "trigger:checkout-5xx-alert" || !strings.Contains(o["reason"].(string), "checkout 5xx above 5%") {
			t.Errorf("override after the trigger: %d %v", code, o)
		}
		resolved := `{"status":"resolved","commonAnnotations":{"summary":"checkout 5xx above 5%"}}`
		if code, m := adminCall(t, "POST", d.url+"/v1/triggers/"+e2eDemoTrigger, "", resolved); code != 200 || m["action"] != "clear" {
			t.Fatalf("resolved: %d %v", code, m)
		}
		withinTime(t, "resolved clears the override", time.Second, func() bool { return variant() == "on" })
	})
}

// TestAdminOverrideLeader runs two syncers and a bearer on one Redis: the
// standby refuses writes with not_leader and the leader's address, reads
// work on it, and only the leader writes back.
func TestAdminOverrideLeader(t *testing.T) {
	redis := redistest.Start(t)
	g := adminRepo(t)
	env := []string{"FLAGPOLE_ADMIN_TOKEN=" + e2eAdminToken}
	a := startDaemonEnv(t, env, "sync", "--repo", g.bare, "--redis", redis.URL(), "--poll", "1s")
	b := startDaemonEnv(t, env, "sync", "--repo", g.bare, "--redis", redis.URL(), "--poll", "1s")
	br := startDaemon(t, "bearer", "--redis", redis.URL())
	waitFor(t, "the bearer to load", func() bool { return versionOf(t, br) != "" })
	const acquired = "leader lock acquired"
	waitFor(t, "a leader", func() bool {
		return strings.Contains(a.Logs(), acquired) || strings.Contains(b.Logs(), acquired)
	})
	leader, standby := a, b
	if strings.Contains(b.Logs(), acquired) {
		leader, standby = b, a
	}
	path := "/v1/admin/overrides/production/checkout-v2"
	code, m := adminCall(t, "PUT", standby.url+path, e2eAdminToken, `{"off":true,"reason":"r"}`)
	e, _ := m["error"].(map[string]any)
	if code != 503 || e["code"] != "not_leader" || "http://"+e["leader"].(string) != leader.url {
		t.Fatalf("PUT on the standby: %d %v; want 503 not_leader naming %s", code, m, leader.url)
	}
	if code, _ := adminCall(t, "GET", standby.url+"/v1/admin/overrides", e2eAdminToken, ""); code != 200 {
		t.Errorf("GET on the standby: %d", code)
	}
	before := g.remoteCommits()
	if code, m := adminCall(t, "PUT", leader.url+path, e2eAdminToken, `{"off":true,"reason":"leader"}`); code != 200 {
		t.Fatalf("PUT on the leader: %d %v", code, m)
	}
	withinTime(t, "the bearer serves it", time.Second, func() bool { return ofrepCheckoutVariant(t, br) == "off" })
	waitFor(t, "the commit", func() bool { return g.remoteCommits() == before+1 })
	waitFor(t, "the layer entry dropped", func() bool {
		_, m := adminCall(t, "GET", standby.url+"/v1/admin/overrides?env=production", e2eAdminToken, "")
		l, _ := m["overrides"].([]any)
		return len(l) == 1 && l[0].(map[string]any)["source"] == "git"
	})
	if n := g.remoteCommits(); n != before+1 {
		t.Errorf("%d commits, want one", n-before)
	}
	if strings.Contains(standby.Logs(), "handed to the write-back") {
		t.Error("the standby wrote back")
	}

	// A trigger on the bearer, with the remote gone: the bearer serves it at
	// once; the leader stops before it could write it back; the standby
	// takes over the lock and the pending write-back (it is in the layer in
	// Redis) and lands it, once, when the remote is back.
	away := g.bare + ".away"
	if err := os.Rename(g.bare, away); err != nil {
		t.Fatal(err)
	}
	resolved := `{"status":"resolved","commonAnnotations":{"summary":"5xx back to normal"}}`
	if code, m := adminCall(t, "POST", br.url+"/v1/triggers/"+e2eDemoTrigger, "", resolved); code != 200 || m["action"] != "clear" || m["cleared"] == false {
		t.Fatalf("trigger on the bearer: %d %v", code, m)
	}
	withinTime(t, "the bearer serves the clear", time.Second, func() bool { return ofrepCheckoutVariant(t, br) == "on" })
	waitFor(t, "the leader to hand the clear to its write-back", func() bool {
		return strings.Count(leader.Logs(), "handed to the write-back") == 2
	})
	leader.stop(t)
	waitFor(t, "the standby to take over", func() bool { return strings.Contains(standby.Logs(), acquired) })
	if err := os.Rename(away, g.bare); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clear's commit, by the new leader", func() bool { return g.remoteCommits() == before+2 })
	waitFor(t, "git caught up", func() bool {
		_, m := adminCall(t, "GET", standby.url+"/v1/admin/overrides?env=production", e2eAdminToken, "")
		l, _ := m["overrides"].([]any)
		return len(l) == 0
	})
	if n := g.remoteCommits(); n != before+2 {
		t.Errorf("%d commits in all, want two", n-before)
	}
	if msg := g.git(g.bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Requested-by: trigger:checkout-5xx-alert") {
		t.Errorf("the clear's commit:\n%s", msg)
	}
}

// TestAdminOverrideDirectory: on a plain directory repository the
// write-back writes the override file (no commit), which the directory
// source then syncs.
func TestAdminOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	d := startDaemonEnv(t, []string{"FLAGPOLE_ADMIN_TOKEN=" + e2eAdminToken}, "serve", "--repo", dir)
	waitFor(t, "the rule set", func() bool { return versionOf(t, d) != "" })
	url := d.url + "/v1/admin/overrides/staging/debug-panel"
	if code, m := adminCall(t, "PUT", url, e2eAdminToken, `{"serve":"off","reason":"dir mode","by":"bob"}`); code != 200 {
		t.Fatalf("PUT: %d %v", code, m)
	}
	file := dir + "/overrides/staging/debug-panel.yaml"
	waitFor(t, "the override file", func() bool {
		b, err := os.ReadFile(file)
		return err == nil && strings.Contains(string(b), "by: bob")
	})
	source := func() any {
		_, m := adminCall(t, "GET", d.url+"/v1/admin/overrides?env=staging", e2eAdminToken, "")
		for _, o := range m["overrides"].([]any) {
			if o := o.(map[string]any); o["flag"] == "debug-panel" {
				return o["source"]
			}
		}
		return nil
	}
	waitFor(t, "the directory synced", func() bool { return source() == "git" })
	if code, m := adminCall(t, "DELETE", url, e2eAdminToken, ""); code != 200 {
		t.Fatalf("DELETE: %d %v", code, m)
	}
	waitFor(t, "the file removed and synced", func() bool {
		_, err := os.Stat(file)
		return os.IsNotExist(err) && source() == nil
	})
}
