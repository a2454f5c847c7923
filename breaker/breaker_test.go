package breaker

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// settings5 is a flag's block `breaker: {error_rate: 5}` over the defaults,
// with slow calls on.
func settings5() Settings {
	return SettingsOf(ruleset.Breaker{
		Window: ruleset.Duration(60 * time.Second), MinRequests: 100, ErrorRate: 5,
		Slow: &ruleset.SlowPolicy{Duration: ruleset.Duration(800 * time.Millisecond), Rate: 50},
		Recovery: ruleset.RecoveryPolicy{Delay: ruleset.Duration(5 * time.Minute), Start: 10, Step: 10,
			Every: ruleset.Duration(time.Minute)},
		OnTrip: "override",
	})
}

// tripped is the breaker's override of a trip at at.
func tripped(at time.Time) *ruleset.Override {
	return &ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off", By: By, At: at,
		Reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%",
		Recovery: &ruleset.Recovery{StartAt: at.Add(5 * time.Minute), Start: 10, Step: 10,
			Every: ruleset.Duration(time.Minute)}}
}

func TestDecide(t *testing.T) {
	healthy := store.Counts{Success: 3300, Failure: 10}
	failing := store.Counts{Success: 2898, Failure: 412}
	human := &ruleset.Override{Flag: "checkout-v2", Serve: "on", By: "alice@example.com", At: t0}
	tests := []struct {
		name       string
		in         Input
		state      State
		action     Action
		reason     string
		cap        float64
		minimum    int64
		nextStep   time.Time
		startAt    time.Time // of a trip's recovery
		humanOwned bool
	}{
		{name: "healthy stays closed", in: Input{Counts: healthy, Now: t0}, state: Closed, action: Stay, minimum: 100},
		{name: "burst below min_requests does not trip",
			in:    Input{Counts: store.Counts{Success: 9, Failure: 90}, Now: t0},
			state: Closed, action: Stay, minimum: 100},
		{name: "error rate at the threshold trips",
			in:    Input{Counts: store.Counts{Success: 95, Failure: 5}, Now: t0},
			state: Open, action: Trip, minimum: 100, nextStep: t0.Add(5 * time.Minute), startAt: t0.Add(5 * time.Minute),
			reason: "breaker: error rate 5.0% (5 of 100 calls in 60s) ≥ 5%"},
		{name: "error rate crossed trips with the figures",
			in:    Input{Counts: failing, Now: t0.Add(1500 * time.Millisecond)},
			state: Open, action: Trip, minimum: 100,
			// at is t0+1s (whole seconds); the ramp starts at the first whole
			// second at least the 5m delay after now (t0+1.5s), never earlier.
			nextStep: t0.Add(2*time.Second + 5*time.Minute), startAt: t0.Add(2*time.Second + 5*time.Minute),
			reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%"},
		{name: "slow rate crossed trips",
			in:    Input{Counts: store.Counts{Success: 200, Failure: 0, Slow: 120}, Now: t0},
			state: Open, action: Trip, minimum: 100, nextStep: t0.Add(5 * time.Minute), startAt: t0.Add(5 * time.Minute),
			reason: "breaker: slow rate 60.0% (120 of 200 calls ≥ 800ms in 60s) ≥ 50%"},
		{name: "open before start_at stays",
			in:    Input{Counts: failing, Override: tripped(t0), Now: t0.Add(4 * time.Minute)},
			state: Open, action: Stay, minimum: 100, nextStep: t0.Add(5 * time.Minute)},
		{name: "recovering at start: cap 10",
			in:    Input{Counts: store.Counts{Success: 300}, Override: tripped(t0), Now: t0.Add(5 * time.Minute)},
			state: Recovering, action: Stay, cap: 10, minimum: 10, nextStep: t0.Add(6 * time.Minute)},
		{name: "recovering steps by the clock: cap 40",
			in:    Input{Counts: store.Counts{Success: 300}, Override: tripped(t0), Now: t0.Add(8*time.Minute + 30*time.Second)},
			state: Recovering, action: Stay, cap: 40, minimum: 40, nextStep: t0.Add(9 * time.Minute)},
		{name: "recovering: few calls below the scaled minimum do not re-trip",
			in:    Input{Counts: store.Counts{Success: 3, Failure: 6}, Override: tripped(t0), Now: t0.Add(5 * time.Minute)},
			state: Recovering, action: Stay, cap: 10, minimum: 10, nextStep: t0.Add(6 * time.Minute)},
		{name: "re-trip during recovery with new times",
			in:    Input{Counts: store.Counts{Success: 20, Failure: 10}, Override: tripped(t0), Now: t0.Add(7 * time.Minute)},
			state: Open, action: Trip, minimum: 30,
			nextStep: t0.Add(12 * time.Minute), startAt: t0.Add(12 * time.Minute),
			reason: "breaker: error rate 33.3% (10 of 30 calls in 60s) ≥ 5%"},
		{name: "recovered at 100 clears",
			in:    Input{Counts: store.Counts{Success: 3000}, Override: tripped(t0), Now: t0.Add(14 * time.Minute)},
			state: Closed, action: Recover, cap: 100, minimum: 100,
			reason: "breaker: recovered (10% to 100% of users from 2026-11-21T10:05:00Z)"},
		{name: "a person's override is never touched",
			in:    Input{Counts: failing, Override: human, Now: t0},
			state: Closed, action: Stay, minimum: 100, humanOwned: true,
			reason: "override by alice@example.com: not the breaker's, left alone"},
		{name: "a person's clear is respected within the window",
			in:    Input{Counts: failing, ClearedAt: t0, Now: t0.Add(59 * time.Second)},
			state: Closed, action: Stay, minimum: 100,
			reason: "held: the breaker's override was cleared at 2026-11-21T10:00:00Z; the window counts calls after it from 2026-11-21T10:01:00Z"},
		{name: "after a person's clear a full window of failures trips again",
			in:    Input{Counts: failing, ClearedAt: t0, Now: t0.Add(60 * time.Second)},
			state: Open, action: Trip, minimum: 100,
			nextStep: t0.Add(6 * time.Minute), startAt: t0.Add(6 * time.Minute),
			reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Flag, in.Environment, in.Off, in.Settings = "checkout-v2", "production", "off", settings5()
			d := Decide(in)
			if d.State != tc.state || d.Action != tc.action {
				t.Fatalf("Decide = %s/%s (%s), want %s/%s", d.State, d.Action, d.Reason, tc.state, tc.action)
			}
			if d.Reason != tc.reason {
				t.Errorf("reason = %q, want %q", d.Reason, tc.reason)
			}
			if d.Cap != tc.cap || d.MinRequests != tc.minimum || !d.NextStep.Equal(tc.nextStep) || d.HumanOverride != tc.humanOwned {
				t.Errorf("cap %v, min %d, next %v, human %v; want %v, %d, %v, %v",
					d.Cap, d.MinRequests, d.NextStep, d.HumanOverride, tc.cap, tc.minimum, tc.nextStep, tc.humanOwned)
			}
			if tc.action != Trip {
				if d.Override != nil {
					t.Errorf("override %+v without a trip", d.Override)
				}
				return
			}
			o := d.Override
			if o == nil || o.Serve != "off" || o.By != By || o.Reason != tc.reason || o.Flag != "checkout-v2" ||
				o.Environment != "production" || !o.At.Equal(in.Now.Truncate(time.Second)) {
				t.Fatalf("override = %+v", o)
			}
			want := ruleset.Recovery{StartAt: tc.startAt, Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)}
			if o.Recovery == nil || *o.Recovery != want {
				t.Errorf("recovery = %+v, want %+v", o.Recovery, want)
			}
		})
	}
}

func TestDecideZeroSettingsTakeDefaults(t *testing.T) {
	// Zero Settings take the defaults: 100 calls, 10 %.
	d := Decide(Input{Flag: "f", Off: "off", Counts: store.Counts{Success: 91, Failure: 9}, Now: t0})
	if d.Action != Stay || d.MinRequests != DefaultMinRequests {
		t.Fatalf("9%% under the default 10%% = %+v", d)
	}
	d = Decide(Input{Flag: "f", Off: "off", Counts: store.Counts{Success: 90, Failure: 10}, Now: t0})
	if d.Action != Trip {
		t.Fatalf("10%% at the default 10%% = %+v", d)
	}
}

func TestDecideExpiredOverrideIsNone(t *testing.T) {
	o := tripped(t0)
	exp := t0.Add(time.Minute)
	o.Expires, o.By = &exp, "alice"
	d := Decide(Input{Flag: "f", Off: "off", Settings: settings5(), Counts: store.Counts{Success: 50, Failure: 50},
		Override: o, Now: t0.Add(2 * time.Minute)})
	if d.Action != Trip || d.HumanOverride {
		t.Fatalf("expired person's override: %+v", d)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", Open: "open", Recovering: "recovering", 7: "State(7)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", int(s), s.String())
		}
	}
	for a, want := range map[Action]string{Stay: "stay", Trip: "trip", Recover: "recover", 9: "Action(9)"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q", int(a), a.String())
		}
	}
}
