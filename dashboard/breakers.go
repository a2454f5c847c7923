package dashboard

import (
	"context"
	"errors"
	"slices"
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
	history []Point // a ring of at most HistoryLen, oldest at head
	head    int
	lastAt  time.Time   // At of the last breaker override seen
	trips   []time.Time // trips in the last 24 h, oldest first
}

// points returns the history oldest first.
func (t *track) points() []Point {
	out := make([]Point, 0, len(t.history))
	out = append(out, t.history[t.head:]...)
	return append(out, t.history[:t.head]...)
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
	if n := len(t.history); n > 0 {
		last := (t.head + n - 1) % n
		if t.history[last].At == p.At {
			t.history[last] = p
			return
		}
	}
	if len(t.history) < max {
		t.history = append(t.history, p)
		return
	}
	t.history[t.head] = p
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
		keys := flagKeys.Keys(env, snap.Document)
		if out == nil {
			// Environments usually have the same flags: one allocation
			// instead of a doubling slice of up to limit entries each tick.
			out = make([]Breaker, 0, min(limit, len(keys)*len(envs)))
		}
		for _, key := range keys {
			if len(out) >= limit {
				return out, nil
			}
			f := snap.Document.Flags[key]
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
