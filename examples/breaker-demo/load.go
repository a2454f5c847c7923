package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// tally counts the answers of one second of load.
type tally struct {
	calls, v2, v1, tried, failed, errors int
}

// add counts one answer, or a request that got none.
func (t *tally) add(a answer, err error) {
	t.calls++
	if err != nil {
		t.errors++
		return
	}
	switch a.Served {
	case "v2":
		t.v2++
	case "v1":
		t.v1++
	}
	if a.NewPath != "skipped" {
		t.tried++
	}
	if a.NewPath == "failed" {
		t.failed++
	}
}

// String is the line the load loop prints for a second.
func (t tally) String() string {
	s := fmt.Sprintf("%3d calls: v2 served %3d, v1 served %3d | new path tried %3d, failed %3d", t.calls, t.v2, t.v1, t.tried, t.failed)
	if t.tried > 0 {
		s += fmt.Sprintf(" (%.0f%%)", 100*float64(t.failed)/float64(t.tried))
	}
	if t.errors > 0 {
		s += fmt.Sprintf(" | %d requests failed", t.errors)
	}
	return s
}

// loadLoop calls a demo service's /recommend for users user-0 … user-(users-1)
// in turn.
type loadLoop struct {
	base  string
	http  *http.Client
	users int
	next  int
}

// newLoadLoop returns a loop over users users of the demo service at base.
func newLoadLoop(base string, users int) *loadLoop {
	return &loadLoop{base: base, http: &http.Client{Timeout: 2 * time.Second}, users: users}
}

// call asks for the next user's recommendations.
func (l *loadLoop) call(ctx context.Context) (answer, error) {
	user := fmt.Sprintf("user-%d", l.next%l.users)
	l.next++
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/recommend?user="+user, nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return answer{}, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return answer{}, fmt.Errorf("decoding the answer: %w", err)
	}
	return a, nil
}

// run calls the service rate times a second until ctx ends, and prints a
// tally of each second to out.
func (l *loadLoop) run(ctx context.Context, rate int, out io.Writer) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	var t tally
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-second.C:
			fmt.Fprintf(out, "%s  %v\n", now.Format(time.TimeOnly), t)
			t = tally{}
		case <-tick.C:
			t.add(l.call(ctx))
		}
	}
}
