// Package breaker owns the circuit breaker: the pure decision that turns a
// flag's outcome counts over a sliding window into a trip, a recovery step
// or nothing (Decide), and the leader-run loop that reads the windows from a
// store.Metrics and acts through the store's override layer (Runner).
//
// The decision does no I/O and reads no clock: the caller passes the time.
// A trip is an override like any other (serve the flag's off variant, by
// "breaker", with a recovery ramp), so the bearers apply it at once and the
// leading syncer's recorder writes it back to git. With on_trip: commit the
// override has no ramp and the recorder disables the flag in git instead;
// recovery is then left to a person.
package breaker

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// By is the override's by (and the layer entry's requester) for what the
// breaker sets and clears.
const By = "breaker"

// Defaults of Settings, the same as the loader's built-in breaker block.
const (
	DefaultWindow        = 60 * time.Second
	DefaultMinRequests   = 100
	DefaultErrorRate     = 10.0
	DefaultRecoveryDelay = 5 * time.Minute
	DefaultRecoveryStart = 10.0
	DefaultRecoveryStep  = 10.0
	DefaultRecoveryEvery = time.Minute
)

// State is where a flag's breaker stands.
type State int

// States.
const (
	// Closed: the flag is evaluated by its rules (or a person's override);
	// the breaker watches its window.
	Closed State = iota
	// Open: the breaker's override serves the off variant to everyone,
	// before its recovery starts.
	Open
	// Recovering: the breaker's override lets a growing share of users
	// (the recovery cap) be evaluated normally.
	Recovering
	// Disabled: the flag is disabled in git (enabled: false), by an
	// on_trip: commit trip or by a person; the breaker leaves it alone until
	// a person enables it.
	Disabled
)

// String is closed, open or recovering.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case Recovering:
		return "recovering"
	case Disabled:
		return "disabled"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes s as its String, for JSON status documents.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Action is what a Decision asks the caller to do.
type Action int

// Actions.
const (
	// Stay: nothing to write.
	Stay Action = iota
	// Trip: set Decision.Override (a first trip, or a re-trip during
	// recovery with new times).
	Trip
	// Recover: the recovery cap reached 100; remove the breaker's override.
	Recover
)

// String is stay, trip or recover.
func (a Action) String() string {
	switch a {
	case Stay:
		return "stay"
	case Trip:
		return "trip"
	case Recover:
		return "recover"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Settings are one flag's breaker settings. Every zero field takes its
// default: Window 60 s, MinRequests 100, ErrorRate 10 %, Recovery delay
// 5 m, start 10 %, step 10 %, every 1 m. SlowDuration or SlowRate zero turns
// the slow-call threshold off.
type Settings struct {
	// Window is how far back the counts go.
	Window time.Duration
	// MinRequests is the fewest calls in the window that may trip the
	// flag while it is closed (scaled down during recovery, see Decide).
	MinRequests int64
	// ErrorRate is the percentage of failed calls that trips the flag.
	ErrorRate float64
	// SlowDuration and SlowRate: the flag also trips when at least
	// SlowRate percent of the calls took SlowDuration or longer.
	SlowDuration time.Duration
	SlowRate     float64
	// Recovery is the ramp a trip's override carries.
	Recovery ruleset.RecoveryPolicy
	// OnTrip is how a trip is recorded: override (default: an override
	// file with the recovery ramp) or commit (the flag disabled in the
	// environment's overlay of its flag file, no ramp).
	OnTrip string
}

// SettingsOf returns the Settings of a flag's merged breaker block.
func SettingsOf(b ruleset.Breaker) Settings {
	s := Settings{
		Window: time.Duration(b.Window), MinRequests: int64(b.MinRequests), ErrorRate: b.ErrorRate,
		Recovery: b.Recovery, OnTrip: b.OnTrip,
	}
	if b.Slow != nil {
		s.SlowDuration, s.SlowRate = time.Duration(b.Slow.Duration), b.Slow.Rate
	}
	return s.withDefaults()
}

// withDefaults fills in the zero fields.
func (s Settings) withDefaults() Settings {
	if s.Window <= 0 {
		s.Window = DefaultWindow
	}
	if s.MinRequests <= 0 {
		s.MinRequests = DefaultMinRequests
	}
	if s.ErrorRate <= 0 {
		s.ErrorRate = DefaultErrorRate
	}
	r := &s.Recovery
	if r.Delay <= 0 {
		r.Delay = ruleset.Duration(DefaultRecoveryDelay)
	}
	if r.Start <= 0 {
		r.Start = DefaultRecoveryStart
	}
	if r.Step <= 0 {
		r.Step = DefaultRecoveryStep
	}
	if r.Every <= 0 {
		r.Every = ruleset.Duration(DefaultRecoveryEvery)
	}
	if s.OnTrip == "" {
		s.OnTrip = "override"
	}
	return s
}

// Input is what Decide looks at for one flag in one environment.
type Input struct {
	Flag        string
	Environment string
	// Off is the variant a trip serves: the flag's off variant.
	Off      string
	Settings Settings
	// Counts are the flag's counts in (Now-Window, Now].
	Counts store.Counts
	// Override is the flag's override as served (git's with the layer
	// over it); nil for none.
	Override *ruleset.Override
	// ClearedAt is when a person removed a breaker override of this flag
	// (zero: not known to have happened). For one Window after it the
	// breaker does not trip the flag: the window still holds the calls
	// that caused the trip the person chose to undo.
	ClearedAt time.Time
	// Disabled is set when git has the flag disabled (enabled: false) in
	// this environment: the breaker does not trip it and, unless its own
	// recovery ramp is still under way, leaves it alone.
	Disabled bool
	// Now is the decision's time.
	Now time.Time
}

// Decision is what Decide concluded, with the figures it used.
type Decision struct {
	State  State
	Action Action
	// Override is the override to set for Trip.
	Override *ruleset.Override
	// Reason says why: the figures for a trip, "breaker: recovered" for a
	// recovery, what held the breaker back otherwise ("" when closed and
	// under the thresholds).
	Reason string
	// Counts, ErrorRate and SlowRate (percent; 0 without calls) are the
	// window's figures; MinRequests the minimum that applied.
	Counts      store.Counts
	ErrorRate   float64
	SlowRate    float64
	MinRequests int64
	// Cap is the recovery cap (percent of users evaluated normally) of the
	// breaker's override at Now: 0 while Open, 100 on Recover.
	Cap float64
	// NextStep is when the cap next grows: the recovery's start while Open,
	// the next step while Recovering; zero otherwise.
	NextStep time.Time
	// HumanOverride is set when a person's override (by someone other than
	// the breaker) holds the flag: the breaker leaves it alone.
	HumanOverride bool
}

// Decide returns what the breaker does about one flag at in.Now:
//
//   - A person's override (by other than "breaker") is never touched: Stay.
//   - A flag disabled in git, without a breaker override that is ramping
//     it back, is left alone (Disabled) until a person enables it.
//   - No override (Closed): Trip when the window has at least MinRequests
//     calls and the error rate reaches ErrorRate or the slow rate reaches
//     SlowRate, except within one Window after ClearedAt.
//   - The breaker's override before its recovery starts, or without a
//     ramp (on_trip: commit, until git has the flag disabled): Open, Stay.
//   - The breaker's override recovering (cap < 100): Trip again, with new
//     times, when a threshold is crossed by at least
//     max(1, ceil(MinRequests × cap / 100)) calls: only the recovering share
//     of users runs the flag's code, so the minimum shrinks with it.
//   - The cap at 100: Recover.
//
// The cap is the one evaluation computes (ruleset.Recovery.Cap).
func Decide(in Input) Decision {
	s := in.Settings.withDefaults()
	d := Decision{Counts: in.Counts, MinRequests: s.MinRequests}
	if total := in.Counts.Total(); total > 0 {
		d.ErrorRate = 100 * float64(in.Counts.Failure) / float64(total)
		d.SlowRate = 100 * float64(in.Counts.Slow) / float64(total)
	}
	o := in.Override
	if o != nil && o.Expires != nil && !in.Now.Before(*o.Expires) {
		o = nil // expired: evaluation ignores it
	}
	switch {
	case o != nil && o.By != By:
		d.HumanOverride = true
		d.Reason = "override by " + o.By + ": not the breaker's, left alone"
		return d
	case in.Disabled && (o == nil || o.Recovery == nil):
		d.State = Disabled
		d.Reason = "disabled in git (enabled: false): left alone until a person enables it"
		return d
	case o == nil:
		if !in.ClearedAt.IsZero() && in.Now.Before(in.ClearedAt.Add(s.Window)) {
			d.Reason = "held: the breaker's override was cleared at " + in.ClearedAt.UTC().Format(time.RFC3339) +
				"; the window counts calls after it from " + in.ClearedAt.Add(s.Window).UTC().Format(time.RFC3339)
			return d
		}
		return d.tripIf(in, s)
	case o.Recovery == nil:
		d.State = Open // a breaker override without a ramp stays until git disables the flag or a person clears it
		d.Reason = "no recovery ramp: stays until cleared"
		if s.OnTrip == "commit" {
			d.Reason = "on_trip: commit: the flag is being disabled in git; a person enables it again"
		}
		return d
	}
	rec := o.Recovery
	if in.Now.Before(rec.StartAt) {
		d.State, d.NextStep = Open, rec.StartAt
		return d
	}
	d.Cap = rec.Cap(in.Now)
	if d.Cap >= 100 {
		d.State, d.Action, d.Cap = Closed, Recover, 100
		d.Reason = "breaker: recovered (" + percent(rec.Start) + " to 100% of users from " +
			rec.StartAt.UTC().Format(time.RFC3339) + ")"
		return d
	}
	d.State = Recovering
	if every := time.Duration(rec.Every); every > 0 {
		steps := in.Now.Sub(rec.StartAt) / every
		d.NextStep = rec.StartAt.Add((steps + 1) * every)
	}
	d.MinRequests = max(1, int64(math.Ceil(float64(s.MinRequests)*d.Cap/100)))
	return d.tripIf(in, s)
}

// tripIf makes d a Trip when a threshold is crossed with at least
// d.MinRequests calls.
func (d Decision) tripIf(in Input, s Settings) Decision {
	total := in.Counts.Total()
	if total < d.MinRequests {
		return d
	}
	window := seconds(s.Window)
	var reason string
	switch {
	case d.ErrorRate >= s.ErrorRate:
		reason = fmt.Sprintf("breaker: error rate %.1f%% (%d of %d calls in %s) ≥ %s",
			d.ErrorRate, in.Counts.Failure, total, window, percent(s.ErrorRate))
	case s.SlowDuration > 0 && s.SlowRate > 0 && d.SlowRate >= s.SlowRate:
		reason = fmt.Sprintf("breaker: slow rate %.1f%% (%d of %d calls ≥ %s in %s) ≥ %s",
			d.SlowRate, in.Counts.Slow, total, s.SlowDuration, window, percent(s.SlowRate))
	default:
		return d
	}
	at := in.Now.UTC().Truncate(time.Second)
	d.State, d.Action, d.Reason, d.Cap = Open, Trip, reason, 0
	d.Override = &ruleset.Override{
		Flag: in.Flag, Environment: in.Environment, Serve: in.Off, Reason: reason, By: By, At: at}
	d.NextStep = time.Time{}
	if s.OnTrip == "commit" {
		return d // no ramp: the flag is disabled in git and a person enables it again
	}
	// Override files hold whole seconds: the ramp starts at the first whole
	// second at least Delay after now, never sooner (at + Delay could be
	// up to a second early, leaving no time at all fully off).
	startAt := in.Now.UTC().Add(time.Duration(s.Recovery.Delay))
	if whole := startAt.Truncate(time.Second); whole.Before(startAt) {
		startAt = whole.Add(time.Second)
	}
	d.Override.Recovery = &ruleset.Recovery{StartAt: startAt,
		Start: s.Recovery.Start, Step: s.Recovery.Step, Every: s.Recovery.Every}
	d.NextStep = d.Override.Recovery.StartAt
	return d
}

// percent formats a threshold: 5 → "5%", 12.5 → "12.5%".
func percent(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) + "%" }

// seconds formats a window as people write it: "60s" rather than "1m0s".
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
