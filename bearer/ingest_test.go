package bearer

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

// Keys that are refused on /v1/metrics besides the client key.
const (
	adminKey  = "fp_adm_0123456789"
	viewerKey = "fp_vwr_0123456789"
)

func TestIngest(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Second))
	mem := store.NewMemory()
	f := newFixture(t, Options{Clock: clock, Metrics: mem})
	snap := snapshot(testDoc("production", "v1"))
	snap.Keys = append(snap.Keys,
		store.Key{Name: "oncall", Kind: store.KeyAdmin, SHA256: hashKey(adminKey)},
		store.Key{Name: "dash", Kind: store.KeyViewer, SHA256: hashKey(viewerKey)})
	f.publishSnap(snap)
	f.waitVersion("production", "v1")

	window := func() map[string]store.Counts {
		t.Helper()
		got, err := mem.WindowCounts(t.Context(), "production", clock.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	good := `{"counts":[{"flag":"checkout-v2","variant":"on","success":90,"failure":10,"slow":5},` +
		`{"flag":"checkout-v2","variant":"off","success":3},{"flag":"banner","success":1,"failure":0,"slow":0}]}`
	code, _, body := f.do("POST", "/v1/metrics", serverKey, good)
	if code != http.StatusOK || string(body) != `{"entries":3,"calls":104}` {
		t.Fatalf("good batch: %d %s", code, body)
	}
	want := map[string]store.Counts{"checkout-v2": {Success: 93, Failure: 10, Slow: 5}, "banner": {Success: 1}}
	if got := window(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("window after a good batch = %v, want %v", got, want)
	}
	// The counts go into the bucket of the bearer's clock, not the SDK's.
	clock.Advance(2 * time.Minute)
	if got := window(); len(got) != 0 {
		t.Fatalf("window two minutes later = %v, want empty", got)
	}

	entries := func(n int, entry string) string {
		return `{"counts":[` + strings.TrimSuffix(strings.Repeat(entry+",", n), ",") + `]}`
	}
	ok := `{"flag":"banner","success":1}`
	cases := []struct {
		name, key, body string
		status          int
		code, message   string
	}{
		{"client key", clientKey, good, 403, httpx.CodeForbidden, "keys of kind client cannot use /v1/metrics"},
		{"admin key", adminKey, good, 403, httpx.CodeForbidden, "kind admin"},
		{"viewer key", viewerKey, good, 403, httpx.CodeForbidden, "kind viewer"},
		{"unknown key", "fp_srv_nope", good, 401, httpx.CodeUnauthorized, "unknown SDK key"},
		{"no key", "", good, 401, httpx.CodeUnauthorized, "missing SDK key"},
		{"not JSON", serverKey, `{"counts":`, 400, httpx.CodeBadRequest, "request body must be a JSON object"},
		{"counts not a list", serverKey, `{"counts":{}}`, 400, httpx.CodeBadRequest, "counts: a JSON object is not allowed here"},
		{"unknown field", serverKey, `{"counts":[],"extra":1}`, 400, httpx.CodeBadRequest, `unknown field "extra"`},
		{"unknown entry field", serverKey, `{"counts":[{"flag":"banner","sucess":1}]}`, 400, httpx.CodeBadRequest, `unknown field "sucess"`},
		{"two objects", serverKey, `{"counts":[]}{}`, 400, httpx.CodeBadRequest, "one JSON object"},
		{"good entries", serverKey, entries(3, ok), 200, "", ""},
		{"unknown flag named", serverKey, `{"counts":[` + ok + `,` + ok + `,` + ok + `,{"flag":"x","success":1}]}`, 400, httpx.CodeBadRequest, `nothing added: counts[3].flag: unknown flag "x"`},
		{"missing flag", serverKey, `{"counts":[{"success":1}]}`, 400, httpx.CodeBadRequest, "counts[0].flag: required"},
		{"flag not a string", serverKey, `{"counts":[{"flag":7,"success":1}]}`, 400, httpx.CodeBadRequest, "counts[0].flag: must be a string"},
		{"unknown variant", serverKey, `{"counts":[{"flag":"banner","variant":"maybe","success":1}]}`, 400, httpx.CodeBadRequest, `counts[0].variant: flag "banner" has no variant "maybe"`},
		{"negative", serverKey, `{"counts":[{"flag":"banner","failure":-1}]}`, 400, httpx.CodeBadRequest, "counts[0].failure: -1 is negative"},
		{"fraction", serverKey, `{"counts":[{"flag":"banner","success":1.5}]}`, 400, httpx.CodeBadRequest, "counts[0].success: 1.5 is not a whole number"},
		{"exponent", serverKey, `{"counts":[{"flag":"banner","success":1e3}]}`, 400, httpx.CodeBadRequest, "counts[0].success: 1e3 is not a whole number"},
		{"string count", serverKey, `{"counts":[{"flag":"banner","success":"5"}]}`, 400, httpx.CodeBadRequest, `counts[0].success: "5" is not a whole number`},
		{"absurd", serverKey, `{"counts":[{"flag":"banner","success":1000001}]}`, 400, httpx.CodeBadRequest, "counts[0].success: 1000001 is more than the limit of 1000000 per entry"},
		{"overflow", serverKey, `{"counts":[{"flag":"banner","success":99999999999999999999}]}`, 400, httpx.CodeBadRequest, "counts[0].success: 99999999999999999999 is not a whole number"},
		{"slow over calls", serverKey, `{"counts":[{"flag":"banner","success":1,"failure":1,"slow":3}]}`, 400, httpx.CodeBadRequest, "counts[0].slow: 3 is more than success + failure (2)"},
		{"every bad entry listed", serverKey, `{"counts":[{"flag":"x"},` + ok + `,{"flag":"banner","slow":1}]}`, 400, httpx.CodeBadRequest, `counts[0].flag: unknown flag "x"; counts[2].slow: 1 is more than`},
		{"many bad entries cut", serverKey, entries(25, `{"flag":"x"}`), 400, httpx.CodeBadRequest, "counts[9].flag: unknown flag \"x\"; and 15 more"},
		{"oversized batch", serverKey, entries(MaxMetricsEntries+1, ok), 413, httpx.CodeTooLarge, "counts has 1001 entries, more than the limit of 1000 per batch"},
		{"body over MaxBodyBytes", serverKey, `{"counts":[{"flag":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}]}`, 413, httpx.CodeTooLarge, "larger than 1048576 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := window()
			code, _, body := f.do("POST", "/v1/metrics", tc.key, tc.body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, body)
			}
			if tc.status == 200 {
				return
			}
			e := decode[httpx.ErrorBody](t, body)
			if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
				t.Fatalf("error %+v, want code %s with %q", e.Error, tc.code, tc.message)
			}
			if after := window(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a refused batch changed the counts: %v → %v", before, after)
			}
		})
	}
	// The most entries allowed is accepted.
	if code, _, body := f.do("POST", "/v1/metrics", serverKey, entries(MaxMetricsEntries, ok)); code != 200 {
		t.Fatalf("batch of %d entries: %d %s", MaxMetricsEntries, code, body)
	}
}

// Without Options.Metrics there is no ingest route.
func TestIngestNotMounted(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	code, _, body := f.do("POST", "/v1/metrics", serverKey, `{"counts":[]}`)
	if code != http.StatusNotFound || decode[httpx.ErrorBody](t, body).Error.Code != httpx.CodeNotFound {
		t.Fatalf("POST /v1/metrics without a Metrics store: %d %s, want 404 not_found", code, body)
	}
}

// Batches posted at once are written together (group commit) and each is
// counted exactly once.
func TestIngestConcurrent(t *testing.T) {
	mem := store.NewMemory()
	f := newFixture(t, Options{Metrics: mem}, testDoc("production", "v1"))
	const posters, each = 8, 25
	errs := make(chan string, posters*each)
	var wg sync.WaitGroup
	for range posters {
		wg.Go(func() {
			for range each {
				req, _ := http.NewRequest("POST", f.url+"/v1/metrics", strings.NewReader(`{"counts":[{"flag":"banner","success":2,"failure":1,"slow":1}]}`))
				req.Header.Set("Authorization", "Bearer "+serverKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- resp.Status
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	got, err := mem.WindowCounts(t.Context(), "production", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Success: 2 * posters * each, Failure: posters * each, Slow: posters * each}); got["banner"] != want {
		t.Fatalf("banner = %+v, want %+v", got["banner"], want)
	}
}
