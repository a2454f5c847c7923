package dashboard

import (
	"reflect"
	"testing"
)

// A track keeps the last max samples, oldest first, as they were added
// (a sample at the same millisecond replaces the last), and its ring
// never holds more than max.
func TestTrackKeepsPoints(t *testing.T) {
	const max = 300
	var tr track
	var want []Point
	states := []string{"closed", "open", "recovering", "disabled"}
	for i := range 2*max + 17 {
		p := Point{At: int64(1000 + i), ErrorRate: round(float64(i%1000) / 7), SlowRate: round(float64(i%13) * 1.1),
			Total: int64(i) << 33, State: states[i%len(states)], Cap: []float64{0, 10, 33.333, 12.5, 100}[i%5]}
		tr.add(p, max)
		want = append(want, p)
		if i%50 == 0 { // another sample in the same millisecond replaces it
			p.ErrorRate, p.State = 99.9, "open"
			tr.add(p, max)
			want[len(want)-1] = p
		}
		if c := cap(tr.history); c > max {
			t.Fatalf("after %d samples the ring holds %d, over %d", i+1, c, max)
		}
	}
	if got := tr.points(); !reflect.DeepEqual(got, want[len(want)-max:]) {
		for i := range got {
			if got[i] != want[len(want)-max+i] {
				t.Fatalf("point %d = %+v, want %+v", i, got[i], want[len(want)-max+i])
			}
		}
		t.Fatalf("%d points, want %d", len(got), max)
	}
}
