package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHalfWrittenFileIsNotServed rewrites a flag file in place in two
// chunks 300 ms apart, the first of them a valid flag on its own: SDK
// streams must get one patch, to the complete file, never to the first
// chunk.
func TestHalfWrittenFileIsNotServed(t *testing.T) {
	// Wider than the default 500 ms, so that a stalled test machine cannot
	// stretch the 300 ms between the chunks past it.
	t.Setenv("FLAGPOLE_SETTLE", "2s")
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	d := startDaemon(t, "serve", "--repo", dir)
	waitFor(t, "the first rule set", func() bool { return versionOf(t, d) != "" })

	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, d.url+"/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+prodServerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	patches := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 4<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok && event == "patch" {
				patches <- data
			}
		}
		close(patches)
	}()

	first, rest, _ := strings.Cut(checkoutDisabled, "rules:\n")
	f, err := os.OpenFile(filepath.Join(dir, "flags", "checkout-v2.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the attack: an editor writing slowly, not an assertion
	if _, err := f.WriteString("rules:\n" + rest); err != nil {
		t.Fatal(err)
	}

	select {
	case p, ok := <-patches:
		if !ok {
			t.Fatal("the stream ended before a patch")
		}
		if !strings.Contains(p, `"checkout-v2"`) || !strings.Contains(p, "allow list") {
			t.Fatalf("first patch is not the complete file (its rule \"allow list\" is missing): %.300s", p)
		}
	case <-time.After(eventually):
		t.Fatalf("no patch within %s", eventually)
	}
}
