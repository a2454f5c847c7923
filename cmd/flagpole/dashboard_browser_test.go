package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Demo viewer and admin keys of flags.example (flags.example/DEMO-KEYS.md).
const (
	demoViewerKey = "fp_vwr_all_66faf98ec94faaa13c0f64d463b8f2ad"
	demoAdminKey  = "fp_adm_all_a3882bfd25ff83085ae78c5131e9e2be"
)

// uiFlag is the flag whose breaker the browser test trips: a short window
// so the graph moves at once, a recovery far off so the trip stays on
// screen.
const (
	uiFlag     = "ui-checkout"
	uiFlagYAML = `key: ui-checkout
name: UI checkout
owner: team-payments
rules:
  - name: everyone
    serve: on
breaker:
  window: 3s
  min_requests: 20
  error_rate: 10
  recovery: {delay: 10m, start: 25, step: 25, every: 1m}
`
)

// chromiumPath finds the browser: $CHROMIUM, else chromium on PATH.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless chromium with a fresh profile and returns a
// context for one tab. The whole test gets 3 minutes.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium not found (install it with scripts/deps.sh, or set CHROMIUM): the dashboard's browser test needs it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first action starts the browser, on a context without a
	// deadline (a deadline there would bound the browser's life).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	return ctx
}

// darkMode makes the page see prefers-color-scheme: dark (or light).
func darkMode(on bool) chromedp.Action[chromedp.Void] {
	scheme := "light"
	if on {
		scheme = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// lowContrast is a JavaScript expression listing the texts of the page
// whose colour against their background is under WCAG AA's 4.5:1.
const lowContrast = `(() => {
	const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => [r, g, b].map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
		.reduce((s, c, i) => s + c * [0.2126, 0.7152, 0.0722][i], 0);
	const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0) return c; } return [255, 255, 255]; };
	const bad = [];
	for (const el of document.querySelectorAll("body *")) {
		if (el.closest("svg") || !el.offsetParent || ![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
		const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		if (ratio < 4.5) bad.push(el.tagName + " " + el.textContent.trim().slice(0, 30) + " " + ratio.toFixed(2));
	}
	return bad;
})()`

// screenshots is where the views' pictures go: $FLAGPOLE_SCREENSHOTS, or
// the test's artifact directory (kept with go test -artifacts).
func screenshots(t *testing.T) string {
	if dir := os.Getenv("FLAGPOLE_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.ArtifactDir()
}

// browse runs actions in the tab, failing the test with what it was
// doing; each batch gets eventually to finish.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	bctx, cancel := context.WithTimeout(ctx, eventually)
	defer cancel()
	if err := chromedp.Do(bctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// evaluate runs a JavaScript expression in the tab and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	bctx, cancel := context.WithTimeout(ctx, eventually)
	defer cancel()
	v, err := chromedp.Run(bctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is true, polling the page
// (not the server) until the test's deadline.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, eventually+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(eventually))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
		t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, expr, err, text)
	}
}

// shoot saves a full-page PNG of the current view.
func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signIn signs the page in with key, with the keyboard: the sign-in form
// has the focus, and Enter submits it.
func signIn(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	browse(t, ctx, "signing in", chromedp.WaitVisible(chromedp.CSS("#key")))
	waitJS(t, ctx, "the key field to have the focus", `document.activeElement && document.activeElement.id === "key"`)
	browse(t, ctx, "typing the key", chromedp.KeyEvent(key+"\r"))
}

// reportFailures posts failing outcome counts for uiFlag with the server
// key until ctx is done: the load loop whose failures trip the breaker.
func reportFailures(ctx context.Context, url string) {
	body := fmt.Sprintf(`{"counts":[{"flag":%q,"variant":"on","success":6,"failure":4}]}`, uiFlag)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/metrics", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+prodServerKey)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// TestDashboardInBrowser drives the dashboard in headless chromium against
// a real flagpole serve on a git copy of the example repository: a client
// key is refused, the viewer key sees the flags and a flag, a breaker graph
// moves while failures are reported and the trip shows without a reload,
// and the admin key kills a flag, which lands in git.
func TestDashboardInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	shots := screenshots(t)
	g := newGitRepo(t)
	g.write("flags/"+uiFlag+".yaml", uiFlagYAML)
	g.commit("a flag with a quick breaker for the dashboard test")
	d := startDaemon(t, "serve", "--repo", g.bare, "--poll", "1s", "--breaker-interval", "200ms")
	waitFor(t, "the server to be ready", func() bool { code, _, _ := get(t, d.url+"/readyz", ""); return code == http.StatusOK })

	// Nothing without a key; an SDK key is refused.
	if code, _, _ := get(t, d.url+"/ui/api/flags", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/flags without a key: %d, want 401", code)
	}
	if code, _, _ := get(t, d.url+"/ui/api/flags", prodClientKey); code != http.StatusForbidden {
		t.Errorf("GET /ui/api/flags with a client key: %d, want 403", code)
	}
	browse(t, ctx, "opening /ui/", chromedp.Navigate(d.url+"/ui/"))
	signIn(t, ctx, prodClientKey)
	waitJS(t, ctx, "the client key refused", `document.getElementById("signin-error").textContent.includes("SDK key")`)
	waitJS(t, ctx, "no view shown", `document.getElementById("view").children.length === 0 && document.getElementById("nav").hidden`)
	shoot(t, ctx, shots, "signin-refused")

	// The viewer key: the flags in every environment.
	signIn(t, ctx, demoViewerKey)
	waitJS(t, ctx, "the flags list", `!!document.querySelector('tr[data-flag="checkout-v2"] td[data-env="production"] .chip.bad')`)
	waitJS(t, ctx, "the live stream", `document.getElementById("live").textContent === "live"`)
	shoot(t, ctx, shots, "flags")

	// One flag: its breaker, its rules and its git history.
	// Clicked from the page's own script: a live update may redraw the
	// list between a DevTools lookup and its click.
	waitJS(t, ctx, "opening the flag", `(() => { const a = document.querySelector('tr[data-flag="`+uiFlag+`"] a'); if (a) a.click(); return !!a; })()`)
	waitJS(t, ctx, "the flag's breaker and history", `!!document.querySelector('[data-breaker="production/`+uiFlag+`"]') && document.querySelectorAll("#history li[data-commit]").length >= 1`)
	histText := evaluate[string](t, ctx, `document.getElementById("history").innerText`)
	if !strings.Contains(histText, "a flag with a quick breaker") {
		t.Errorf("the flag's history does not show its commit:\n%s", histText)
	}
	// A marker that a reload would lose.
	evaluate[bool](t, ctx, `window.__noReload = true`)

	// The load loop: failures through POST /v1/metrics with a server key.
	lctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	go reportFailures(lctx, d.url)
	card := `document.querySelector('[data-breaker="production/` + uiFlag + `"]')`
	waitJS(t, ctx, "the graph to move", card+` && Number(`+card+`.querySelector("path.err")?.dataset.points || 0) > 3 && !`+card+`.querySelector('[data-testid="error-rate"]').textContent.startsWith("0%")`)
	waitJS(t, ctx, "the trip without a reload", card+` && `+card+`.dataset.state === "open" && window.__noReload === true`)
	waitJS(t, ctx, "the trip counted", card+`.querySelector('[data-testid="trips"]').textContent.startsWith("1")`)
	stopLoad()
	waitJS(t, ctx, "the breaker's override on the page", `!!document.querySelector('#served [data-override="off"]')`)
	shoot(t, ctx, shots, "flag")
	if bad := evaluate[[]string](t, ctx, lowContrast); len(bad) > 0 {
		t.Errorf("texts under 4.5:1 contrast in light mode: %v", bad)
	}
	browse(t, ctx, "the breakers view", chromedp.Navigate(d.url+"/ui/#/breakers"))
	waitJS(t, ctx, "the breakers view", `document.querySelector('[data-breaker="production/`+uiFlag+`"]')?.dataset.state === "open"`)
	shoot(t, ctx, shots, "breakers")
	browse(t, ctx, "the audiences view", chromedp.Navigate(d.url+"/ui/#/audiences/production/west-coast-students"))
	waitJS(t, ctx, "the audiences view at the audience", `document.getElementById("aud-production-west-coast-students")?.classList.contains("target")`)
	shoot(t, ctx, shots, "audiences")
	// On a phone, in dark mode: the flag view still reads.
	browse(t, ctx, "a phone in dark mode",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		darkMode(true),
		chromedp.Navigate(d.url+"/ui/#/flag/production/"+uiFlag))
	waitJS(t, ctx, "the flag on a phone", `!!document.querySelector('[data-breaker="production/`+uiFlag+`"]') && document.documentElement.scrollWidth <= window.innerWidth + 1`)
	if bg := evaluate[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
		t.Errorf("dark mode: body background %s", bg)
	}
	shoot(t, ctx, shots, "flag-phone-dark")
	if bad := evaluate[[]string](t, ctx, lowContrast); len(bad) > 0 {
		t.Errorf("texts under 4.5:1 contrast in dark mode: %v", bad)
	}
	browse(t, ctx, "back to a desktop in light mode", chromedp.EmulateViewport(1280, 900), darkMode(false))
	browse(t, ctx, "the sync view", chromedp.Navigate(d.url+"/ui/#/sync"))
	waitJS(t, ctx, "the sync view", `Number(document.getElementById("streams")?.textContent) >= 1 && document.getElementById("view").innerText.includes("SDK streams on this server's bearer: production 0")`+
		// serve's own bearer, from the store, with its address
		` && document.querySelector('[data-bearers="1"] tr[data-bearer] td:nth-child(2)')?.textContent === "`+strings.TrimPrefix(d.url, "http://")+`"`)
	shoot(t, ctx, shots, "sync")

	// An error says what went wrong and what to do.
	browse(t, ctx, "an unknown flag", chromedp.Navigate(d.url+"/ui/#/flag/production/no-such-flag"))
	waitJS(t, ctx, "the error state", `(() => { const a = document.querySelector('#view [role="alert"]'); return !!a && a.textContent.includes('no flag "no-such-flag"') && !!a.querySelector("button"); })()`)

	// A viewer has no kill button.
	browse(t, ctx, "a flag as a viewer", chromedp.Navigate(d.url+"/ui/#/flag/production/new-onboarding"))
	waitJS(t, ctx, "the flag as a viewer", `!!document.getElementById("served") && !document.getElementById("kill")`)
	// Try a context: the server's evaluation with its trace.
	waitJS(t, ctx, "trying a context", `(() => {
		const ctx = document.getElementById("try-ctx"), form = ctx && ctx.closest("form");
		if (!form) return false;
		ctx.value = '{"key": "user-1", "app_version": "1.0.0"}';
		form.requestSubmit();
		return true;
	})()`)
	waitJS(t, ctx, "the trace", `document.getElementById("try-out").textContent.includes('rule[0] "recent apps": no match')`)

	// The admin key kills a flag; the override reaches git.
	browse(t, ctx, "signing out", chromedp.Click(chromedp.CSS("#signout")))
	signIn(t, ctx, demoAdminKey)
	waitJS(t, ctx, "signed in as admin", `document.getElementById("who-name").textContent.includes("admin")`)
	browse(t, ctx, "the flag as an admin", chromedp.Navigate(d.url+"/ui/#/flag/production/new-onboarding"))
	waitJS(t, ctx, "the kill button", `!!document.getElementById("k-set")`)
	waitJS(t, ctx, "killing the flag", `(() => {
		const reason = document.getElementById("k-reason"), set = document.getElementById("k-set");
		if (!reason || !set) return false;
		reason.value = "dashboard test: onboarding errors";
		set.click();
		return true;
	})()`)
	waitJS(t, ctx, "the override set", `document.getElementById("kill-msg").textContent.startsWith("Override set")`)
	waitJS(t, ctx, "the override shown", `!!document.querySelector('#served [data-override="off"]')`)
	shoot(t, ctx, shots, "kill")
	waitFor(t, "the override committed to git", func() bool {
		files := g.git(g.bare, "ls-tree", "-r", "--name-only", "main", "overrides/production/")
		return strings.Contains(files, "new-onboarding.yaml")
	})
	if file := g.git(g.bare, "show", "main:overrides/production/new-onboarding.yaml"); !strings.Contains(file, "dashboard test: onboarding errors") || !strings.Contains(file, "oncall-demo") {
		t.Errorf("the committed override lacks the reason or the admin key's name:\n%s", file)
	}
	// Clear: the override file leaves git.
	waitJS(t, ctx, "clearing the override", `(() => {
		const reason = document.getElementById("k-reason"), clear = document.getElementById("k-clear");
		if (!reason || !clear) return false;
		reason.value = "dashboard test: fixed";
		clear.click();
		return true;
	})()`)
	waitJS(t, ctx, "the override cleared", `document.getElementById("kill-msg")?.textContent.startsWith("Override cleared") || !document.querySelector("#served [data-override]")`)
	waitFor(t, "the override's removal committed to git", func() bool {
		files := g.git(g.bare, "ls-tree", "-r", "--name-only", "main", "overrides/production/")
		return !strings.Contains(files, "new-onboarding.yaml")
	})
	waitJS(t, ctx, "no override on the page", `!!document.getElementById("served") && !document.querySelector("#served [data-override]")`)
	t.Logf("screenshots in %s", shots)
}
