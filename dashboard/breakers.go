package dashboard

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/flagpole/flagpole/breaker"
	"github.com/flagpole/flagpole/store"
)

// Point is one sample of a breaker's window, as the graphs plot it.
type Point struct {
	At        int64   `json:"t"` // Unix milliseconds
	ErrorRate float64 `json:"e"` // percent
	SlowRate  float64 `json:"s"` // percent
	Total     int64   `json:"n"` // calls in the window
	State     string  `json:"st"`
	Cap       float64 `json:"c"` // recovery cap, percent
}

// Breaker is one flag's breaker in one environment at the last sample.
type Breaker struct {
	Environment   string       `json:"environment"`
	Flag          string       `json:"flag"`
	State         string       `json:"state"` // closed, open, recovering, disabled
	Counts        store.Counts `json:"counts"`
	ErrorRate     float64      `json:"error_rate"`
	SlowRate      float64      `json:"slow_rate"`
	Threshold     float64      `json:"threshold"`
	SlowThreshold float64      `json:"slow_threshold,omitempty"`
	SlowDuration  string       `json:"slow_duration,omitempty"`
	MinRequests   int64        `json:"min_requests"`
	Window        string       `json:"window"`
	Cap           float64      `json:"recovery_cap"`
	NextStep      *time.Time   `json:"next_step,omitempty"`
	// Crossing is set when the window is over a threshold and the breaker
	// has not tripped the flag yet (it does at its next tick).
	Crossing bool   `json:"crossing,omitempty"`
	Note     string `json:"note,omitempty"`
	// Trips24h counts the trips seen in the last 24 h: those this process
	// saw happen, and the one in force when it started.
	Trips24h int        `json:"trips_24h"`
	LastTrip *time.Time `json:"last_trip,omitempty"`
	// Override is the breaker's override reason while one is in force.
	Reason string `json:"reason,omitempty"`
	// Trips are the times of the last trips of the 24 h, newest first, at
	// most 20 (not in the events).
	Trips []time.Time `json:"trips,omitempty"`
	// History is the last samples, oldest first (only on /ui/api/breakers).
	History []Point `json:"history,omitempty"`

	overrideAt time.Time // at of the breaker's override in force, or zero
}

// fkey names one flag in one environment.
type fkey struct{ env, flag string }

// track is what the sampler keeps of one breaker between samples.
type track struct {
	last    Breaker
	history []sample // a ring of at most HistoryLen, oldest at head
	head    int
	lastAt  time.Time   // At of the last breaker override seen
	trips   []time.Time // trips in the last 24 h, oldest first
}

// sample is a Point as a track keeps it: 32 bytes, not 56, so that the
// default 1,000 breakers × 300 samples hold 9.6 MB rather than 16.8 (and
// rings no longer grow by doubling past their length: 28 MB at 10,000
// flags). Rates are kept as sampled (rounded to 0.1, exact again after
// round); the cap as float32, read back as its shortest decimal.
type sample struct {
	at, total                int64
	errorRate, slowRate, cap float32
	state                    uint8 // a breaker.State
}

func toSample(p Point) sample {
	return sample{at: p.At, total: p.Total, errorRate: float32(p.ErrorRate), slowRate: float32(p.SlowRate),
		cap: float32(p.Cap), state: uint8(stateOf(p.State))}
}

func (s sample) point() Point {
	return Point{At: s.at, Total: s.total, ErrorRate: round(float64(s.errorRate)), SlowRate: round(float64(s.slowRate)),
		Cap: shortest(s.cap), State: breaker.State(s.state).String()}
}

// shortest is f as the float64 of its shortest decimal form: 33.333 and
// not 33.33300018310547.
func shortest(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// stateOf is the breaker.State whose String is s.
func stateOf(s string) breaker.State {
	for _, st := range []breaker.State{breaker.Open, breaker.Recovering, breaker.Disabled} {
		if st.String() == s {
			return st
		}
	}
	return breaker.Closed
}

// points returns the history oldest first.
func (t *track) points() []Point {
	out := make([]Point, 0, len(t.history))
	for _, s := range t.history[t.head:] {
		out = append(out, s.point())
	}
	for _, s := range t.history[:t.head] {
		out = append(out, s.point())
	}
	return out
}

// recentTrips returns the last 20 trips, newest first.
func (t *track) recentTrips() []time.Time {
	n := min(len(t.trips), 20)
	out := make([]time.Time, 0, n)
	for i := len(t.trips) - 1; i >= len(t.trips)-n; i-- {
		out = append(out, t.trips[i].UTC())
	}
	return out
}

// add appends p, replacing the last point when it has the same time (a
// sample taken on a change in the same millisecond as the tick's).
func (t *track) add(p Point, max int) {
	sp := toSample(p)
	if n := len(t.history); n > 0 {
		last := (t.head + n - 1) % n
		if t.history[last].at == p.At {
			t.history[last] = sp
			return
		}
	}
	if len(t.history) < max {
		if len(t.history) == cap(t.history) {
			// Double, but never past max: append would grow a ring of
			// 300 to 512.
			grown := make([]sample, len(t.history), min(max, 2*cap(t.history)+8))
			copy(grown, t.history)
			t.history = grown
		}
		t.history = append(t.history, sp)
		return
	}
	t.history[t.head] = sp
	t.head = (t.head + 1) % max
}

// sampleBreakers computes every breaker of every environment at now, the
// way the breaker itself decides (breaker.Decide over the store's window
// counts and the served overrides), without acting on it. It reads one
// WindowCounts per distinct window per environment.
func sampleBreakers(ctx context.Context, st LayerStore, m store.Metrics, flagKeys *breaker.KeyCache, now time.Time, limit int) ([]Breaker, error) {
	envs, err := st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	flagKeys.Forget(func(env string) bool { return slices.Contains(envs, env) })
	var out []Breaker
	for _, env := range envs {
		snap, err := st.Snapshot(ctx, env)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if snap.Document == nil {
			continue
		}
		layer, err := st.Layer(ctx, env)
		if err != nil {
			return nil, err
		}
		served, _ := layer.Apply(snap.Document)
		windows := map[time.Duration]map[string]store.Counts{}
		keys := flagKeys.Keys(env, snap.Document, snap.Change)
		if out == nil {
			// Environments usually have the same flags: one allocation
			// instead of a doubling slice of up to limit entries each tick.
			out = make([]Breaker, 0, min(limit, len(keys)*len(envs)))
		}
		for _, key := range keys {
			if len(out) >= limit {
				return out, nil
			}
			f := snap.Document.Flags.Get(key)
			s := breaker.SettingsOf(*f.Breaker)
			counts, ok := windows[s.Window]
			if !ok && m != nil {
				if counts, err = m.WindowCounts(ctx, env, now, s.Window); err != nil {
					return nil, err
				}
				windows[s.Window] = counts
			}
			o := served.Overrides[key]
			in := breaker.Input{Flag: key, Environment: env, Off: f.Off, Settings: s, Counts: counts[key],
				Override: o, Disabled: !f.Enabled, Now: now}
			out = append(out, breakerOf(in, breaker.Decide(in)))
		}
	}
	return out, nil
}

// breakerOf turns a decision into what the dashboard shows.
func breakerOf(in breaker.Input, d breaker.Decision) Breaker {
	s := in.Settings
	b := Breaker{Environment: in.Environment, Flag: in.Flag, State: d.State.String(), Counts: d.Counts,
		ErrorRate: d.ErrorRate, SlowRate: d.SlowRate, Threshold: s.ErrorRate, MinRequests: d.MinRequests,
		Window: s.Window.String(), Cap: d.Cap, Note: d.Reason}
	if s.SlowDuration > 0 && s.SlowRate > 0 {
		b.SlowThreshold, b.SlowDuration = s.SlowRate, s.SlowDuration.String()
	}
	if !d.NextStep.IsZero() {
		t := d.NextStep.UTC()
		b.NextStep = &t
	}
	o := in.Override
	if o != nil && o.By == breaker.By {
		b.Reason, b.overrideAt = o.Reason, o.At
	}
	if d.Action == breaker.Trip {
		// Decide says what the breaker will do at its next tick; until
		// then the flag is where its override leaves it.
		b.Crossing, b.Note, b.NextStep = true, "threshold crossed: "+d.Reason, nil
		b.State = breaker.Closed.String()
		if o != nil && o.By == breaker.By && o.Recovery != nil {
			b.State, b.Cap = breaker.Recovering.String(), o.Recovery.Cap(in.Now)
		}
	}
	if d.Action == breaker.Recover {
		b.State = breaker.Recovering.String()
	}
	return b
}
