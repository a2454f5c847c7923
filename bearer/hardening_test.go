package bearer

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
)

// costlyDoc has n flags, each with a regex condition that scans the whole
// "email" attribute.
func costlyDoc(n int) *ruleset.Document {
	flags := ruleset.NewFlagMapBuilder(n)
	for i := range n {
		key := fmt.Sprintf("flag-%03d", i)
		flags.Set(key, &ruleset.Flag{Key: key, Client: true, Type: ruleset.TypeBoolean, Variants: boolVariants(),
			Enabled: true, Off: "off", Default: "off",
			Rules: []ruleset.Rule{{Conditions: []ruleset.Condition{{Attribute: "email", Type: ruleset.AttrString, Operator: ruleset.OpMatches,
				Values: []json.RawMessage{json.RawMessage(`"(x|y|z)+[0-9]{5}(@|#)q$"`)}}}, Serve: "on"}}})
	}
	return &ruleset.Document{Version: "v1", Environment: "production", Flags: flags.FlagMap()}
}

// An evaluation over budget used to be cut by the write deadline: the
// client got a closed connection instead of an answer.
func TestEvaluationOverBudget(t *testing.T) {
	// A clock that moves 50 ms at every reading: 1,000 flags take 50 s of
	// it whatever the machine's speed, far over the 1.6 s budget, which
	// runs out after about 32 flags. The real budget is as long, so that a
	// loaded -race run evaluates those flags long before the real deadline
	// (with 1 ms steps and a 300 ms timeout, 240 costly flags had to fit in
	// 240 real milliseconds, and a busy CI machine missed it).
	clock := &tickingClock{FakeClock: clockwork.NewFakeClockAt(time.Now()), step: 50 * time.Millisecond}
	f := newFixture(t, Options{RequestTimeout: 2 * time.Second, Clock: clock}, costlyDoc(ruleset.MaxRules))
	// A short email: the budget runs out on the ticking clock, not the
	// real one, so that a slow (-race) run cannot reach the write deadline.
	body := ctxBody(`{"email":"x1234567"}`)
	start := time.Now()
	status, _, b := f.do("POST", "/v1/evaluate", clientKey, body)
	if status != http.StatusServiceUnavailable || decode[httpx.ErrorBody](t, b).Error.Code != codeEvaluationTimeout {
		t.Errorf("/v1/evaluate over budget (%s): %d %s", time.Since(start), status, b)
	}
	status, _, b = f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, body)
	if status != http.StatusInternalServerError || !strings.Contains(string(b), codeEvaluationTimeout) {
		t.Errorf("OFREP bulk over budget: %d %s", status, b)
	}
}

// tickingClock advances by step at every Now.
type tickingClock struct {
	*clockwork.FakeClock
	step time.Duration
}

func (c *tickingClock) Now() time.Time {
	c.Advance(c.step)
	return c.FakeClock.Now()
}

// Evaluated streams used to re-evaluate at every ping, whatever the rules;
// then at every ping when the rules depended on time. Now they re-evaluate
// at clock ticks (clocktick_test.go) and never at pings.
func TestEvaluatedStreamPings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeDep bool
	}{{"static rules", false}, {"override with expiry", true}} {
		t.Run(tc.name, func(t *testing.T) {
			doc := testDoc("production", "v1")
			if tc.timeDep {
				exp := time.Now().Add(time.Hour)
				doc.Overrides = map[string]*ruleset.Override{"banner": {Flag: "banner", Environment: "production", Serve: "on", At: time.Now(), Expires: &exp}}
			}
			f := newFixture(t, Options{PingInterval: 20 * time.Millisecond}, doc)
			s := f.openStream("/v1/stream/evaluated", clientKey)
			s.next(false)
			for pings := 0; pings < 4; {
				if s.next(true).Comment == "ping" {
					pings++
				}
			}
			if got := f.srv.streamEvals.Load(); got != 1 {
				t.Errorf("evaluations after 4 pings: %d, want 1 (time-dependent %v)", got, tc.timeDep)
			}
		})
	}
}

// Duplicate attributes are a 400 everywhere: OFREP used to drop one
// silently when the context also held a structured attribute.
func TestDuplicateAttributes(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	body := `{"context":{"key":"audrey","key":"bob","tags":["a"]}}`
	for _, path := range []string{"/ofrep/v1/evaluate/flags/banner", "/ofrep/v1/evaluate/flags"} {
		if status, _, b := f.do("POST", path, clientKey, body); status != http.StatusBadRequest || !strings.Contains(string(b), "duplicate") {
			t.Errorf("%s: %d %s", path, status, b)
		}
	}
	if status, _, b := f.do("POST", "/v1/evaluate", clientKey, `{"context":{"key":"audrey","key":"bob"}}`); status != http.StatusBadRequest {
		t.Errorf("/v1/evaluate: %d %s", status, b)
	}
}

// More attributes than the limit get the same status as a context over the
// byte limit (413; 400 on OFREP, which has no 413), naming the limit.
func TestTooManyAttributes(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	var attrs []string
	for i := range ruleset.MaxContextAttributes + 1 {
		attrs = append(attrs, fmt.Sprintf(`"a%d":1`, i))
	}
	ctx := "{" + strings.Join(attrs, ",") + "}"
	limit := fmt.Sprint(ruleset.MaxContextAttributes)
	check := func(what string, status int, b []byte, want int) {
		t.Helper()
		if status != want || !strings.Contains(string(b), limit) {
			t.Errorf("%s: %d %s, want %d naming the limit %s", what, status, b, want, limit)
		}
	}
	status, _, b := f.do("POST", "/v1/evaluate", clientKey, ctxBody(ctx))
	check("/v1/evaluate", status, b, http.StatusRequestEntityTooLarge)
	status, _, b = f.do("GET", "/v1/stream/evaluated?context="+base64.RawURLEncoding.EncodeToString([]byte(ctx)), clientKey, "")
	check("/v1/stream/evaluated", status, b, http.StatusRequestEntityTooLarge)
	status, _, b = f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(ctx))
	check("OFREP bulk", status, b, http.StatusBadRequest)
}

// Error messages used to name Go types ("cannot unmarshal string into Go
// value of type bearer.evalRequest").
func TestErrorsNameNoGoTypes(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	for _, body := range []string{`"x"`, `[1]`, `1`, `{"context":"x"}`, `{"context":[1]}`, `{"context":{"a":{"b":1}}}`, `{"context":`, `{"context":{"a":[1,2]}}`} {
		for _, path := range []string{"/v1/evaluate", "/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/banner"} {
			status, _, b := f.do("POST", path, clientKey, body)
			if status != http.StatusBadRequest || strings.Contains(string(b), "Go ") || strings.Contains(string(b), "bearer.") || strings.Contains(string(b), "ruleset.") {
				if status == http.StatusOK && strings.HasPrefix(path, "/ofrep") && strings.Contains(body, `{"b"`) {
					continue // OFREP ignores structured attributes
				}
				if status == http.StatusOK && strings.HasPrefix(path, "/ofrep") && strings.Contains(body, `[1,2]`) {
					continue
				}
				t.Errorf("%s %s: %d %s", path, body, status, b)
			}
		}
	}
}

// A body that arrives too slowly gets a 408, not a closed connection.
func TestSlowBody(t *testing.T) {
	f := newFixture(t, Options{RequestTimeout: 300 * time.Millisecond}, testDoc("production", "v1"))
	c, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprintf(c, "POST /v1/evaluate HTTP/1.1\r\nHost: bearer\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"context\"", clientKey)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: status %d, want 408", resp.StatusCode)
	}
}
