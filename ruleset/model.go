package ruleset

import (
	"encoding/json"
	"fmt"
	"time"
)

// Document is the wire form of one environment's rule set: what the loader
// produces from a flags repository, what stores keep, what bearers stream to
// server-side SDKs, and what Compile turns into an evaluable RuleSet.
//
// Environment overlays and breaker defaults are already merged into it, and
// every condition carries the type of its attribute, so a Document is
// self-contained: it needs neither the repository nor attributes.yaml.
type Document struct {
	// Version identifies this rule set: the commit (or content hash) it came
	// from, plus a change counter once overrides are applied on top of it.
	Version string `json:"version"`
	// Environment is the environment this document serves.
	Environment string `json:"environment"`
	// Commit is the git commit (or content hash for a plain directory).
	Commit string `json:"commit,omitempty"`
	// Flags by key.
	Flags FlagMap `json:"flags"`
	// Audiences by key.
	Audiences map[string]*Audience `json:"audiences,omitempty"`
	// Overrides by flag key.
	Overrides map[string]*Override `json:"overrides,omitempty"`
}

// FlagType is the type of a flag's variant values.
type FlagType string

// Flag types.
const (
	TypeBoolean FlagType = "boolean"
	TypeString  FlagType = "string"
	TypeNumber  FlagType = "number"
	TypeJSON    FlagType = "json"
)

// Flag is one feature flag with its environment overlay already applied.
type Flag struct {
	Key         string    `json:"key"`
	Name        string    `json:"name,omitempty"`
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	Client      bool      `json:"client,omitempty"`
	Type        FlagType  `json:"type"`
	Variants    []Variant `json:"variants"` // in file order
	Enabled     bool      `json:"enabled"`
	Off         string    `json:"off"`     // variant served when disabled
	Default     string    `json:"default"` // variant served when no rule matches
	Rules       []Rule    `json:"rules,omitempty"`
	Breaker     *Breaker  `json:"breaker,omitempty"` // defaults merged in
	Expires     string    `json:"expires,omitempty"` // YYYY-MM-DD
	Kind        Kind      `json:"kind,omitempty"`    // what the flag is for; "" when unset
	// Requires lists the flag's prerequisites: every one must serve one of
	// its variants for this context, or the flag serves Off with reason
	// PREREQUISITE_FAILED.
	Requires []Prerequisite `json:"requires,omitempty"`
	// Schedule holds dated steps in time order. The step in force (the last
	// one whose At is not after the evaluation time) is merged over the
	// flag together with every earlier step, like an overlay.
	Schedule []ScheduleStep `json:"schedule,omitempty"`
	// Metadata holds free key/value pairs (string, float64 or bool values)
	// returned with every result of the flag, as OpenFeature flag metadata.
	// See MaxMetadataEntries and the other metadata bounds.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Prerequisite is one entry of a flag's requires: flag Flag must serve one
// of Variants.
type Prerequisite struct {
	Flag     string   `json:"flag"`
	Variants []string `json:"variants"`
}

// ScheduleStep is one dated step of a flag's schedule. From At on, the
// fields it sets replace the flag's (and earlier steps') fields; nil or
// empty fields are kept. A step cannot change a flag's key, type or
// variants.
type ScheduleStep struct {
	At      time.Time `json:"at"`
	Enabled *bool     `json:"enabled,omitempty"`
	Off     string    `json:"off,omitempty"`
	Default string    `json:"default,omitempty"`
	// Rules, when not nil, replaces the rules (an empty list removes them).
	Rules *[]Rule `json:"rules,omitempty"`
	// Requires, when not nil, replaces the prerequisites.
	Requires *[]Prerequisite `json:"requires,omitempty"`
}

// Ramp is a progressive rollout computed from the clock, exactly like an
// override's recovery cap: before Start nobody is in; from Start the cap is
// min(100, From + Step*floor((now-Start)/Every)) percent. Users whose bucket
// (salt = flag key, by the rule's By attribute) is below the cap get Serve,
// the others Otherwise; a user who is in stays in as the cap grows.
type Ramp struct {
	Serve     string    `json:"serve"`
	Otherwise string    `json:"otherwise"`
	From      float64   `json:"from"`
	Step      float64   `json:"step"`
	Every     Duration  `json:"every"`
	Start     time.Time `json:"start"`
}

// Cap is the percentage of users the ramp serves Serve at now: 0 before
// Start, then min(100, From + Step*floor((now-Start)/Every)), exactly as
// evaluation computes it.
func (r *Ramp) Cap(now time.Time) float64 {
	return clockCap(r.Start, r.From, r.Step, r.Every, now)
}

// Variant is a named value of a flag.
type Variant struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Rule is one targeting rule; the first matching rule wins.
//
// A rule matches when every selector it has matches: Users (the context key
// is in the list), Audiences (the context is in any of them) and Conditions
// (combined by Match). A rule without selectors matches everyone. A matching
// rule serves Serve, splits by Rollout bucketed on the By attribute, or
// follows Ramp bucketed on the By attribute. A context without a usable By
// value does not match a Rollout or Ramp rule.
type Rule struct {
	Name       string      `json:"name,omitempty"`
	Users      []string    `json:"users,omitempty"`
	Audiences  []string    `json:"audiences,omitempty"`
	Match      Match       `json:"match,omitempty"` // for Conditions; default all
	Conditions []Condition `json:"conditions,omitempty"`
	Serve      string      `json:"serve,omitempty"`
	Rollout    []Weight    `json:"rollout,omitempty"` // in file order
	// Ramp, instead of Serve or Rollout, grows Ramp.Serve's share by the clock.
	Ramp *Ramp  `json:"ramp,omitempty"`
	By   string `json:"by,omitempty"` // bucketing attribute of Rollout and Ramp; default "key"
}

// Weight is one variant's share of a rollout, in thousandths of a percent
// (25.5% is 25500); the weights of a rollout sum to 100000.
type Weight struct {
	Variant string `json:"variant"`
	Weight  int    `json:"weight"`
}

// Match says how conditions combine.
type Match string

// Match modes.
const (
	MatchAll Match = "all"
	MatchAny Match = "any"
)

// Audience is a named, reusable set of conditions.
type Audience struct {
	Key        string      `json:"key"`
	Name       string      `json:"name,omitempty"`
	Match      Match       `json:"match,omitempty"` // default all
	Conditions []Condition `json:"conditions"`
}

// AttrType is the declared type of a context attribute.
type AttrType string

// Attribute types.
const (
	AttrString   AttrType = "string"
	AttrBoolean  AttrType = "boolean"
	AttrNumber   AttrType = "number"
	AttrSemver   AttrType = "semver"
	AttrDatetime AttrType = "datetime"
)

// Condition tests one attribute of the context, or (when Audience is set)
// membership of another audience.
type Condition struct {
	Audience  string   `json:"audience,omitempty"`
	Attribute string   `json:"attribute,omitempty"`
	Type      AttrType `json:"type,omitempty"` // the attribute's declared type
	Operator  string   `json:"operator,omitempty"`
	// Values holds the operand(s) as JSON values: one for eq, lt, ...; any
	// number for in and not_in; none for exists and not_exists.
	Values []json.RawMessage `json:"values,omitempty"`
}

// Operators.
const (
	OpEq          = "eq"
	OpNeq         = "neq"
	OpIn          = "in"
	OpNotIn       = "not_in"
	OpContains    = "contains"
	OpNotContains = "not_contains"
	OpStartsWith  = "starts_with"
	OpEndsWith    = "ends_with"
	OpMatches     = "matches"
	OpLt          = "lt"
	OpLte         = "lte"
	OpGt          = "gt"
	OpGte         = "gte"
	OpExists      = "exists"
	OpNotExists   = "not_exists"
)

// Override forces a flag to one variant in one environment, optionally with
// a clock-computed recovery ramp back to normal evaluation.
type Override struct {
	Flag        string     `json:"flag"`
	Environment string     `json:"environment"`
	Serve       string     `json:"serve"`
	Reason      string     `json:"reason,omitempty"`
	By          string     `json:"by,omitempty"`
	At          time.Time  `json:"at"`
	Expires     *time.Time `json:"expires,omitempty"`
	Recovery    *Recovery  `json:"recovery,omitempty"`
}

// Recovery is an override's ramp: before StartAt everyone gets the override;
// from StartAt the share of users evaluated normally is
// min(100, Start + Step*floor((now-StartAt)/Every)) percent.
type Recovery struct {
	StartAt time.Time `json:"start_at"`
	Start   float64   `json:"start"`
	Step    float64   `json:"step"`
	Every   Duration  `json:"every"`
}

// Cap is the percentage of users the ramp evaluates normally at now:
// 0 before StartAt, then min(100, Start + Step*floor((now-StartAt)/Every)),
// exactly as evaluation computes it.
func (r *Recovery) Cap(now time.Time) float64 {
	return clockCap(r.StartAt, r.Start, r.Step, r.Every, now)
}

// Breaker is a flag's circuit-breaker settings, defaults merged in.
type Breaker struct {
	Window      Duration `json:"window"`
	MinRequests int      `json:"min_requests"`
	ErrorRate   float64  `json:"error_rate"` // percent
	// Slow, when set, also trips the flag when too many calls are slow.
	Slow     *SlowPolicy    `json:"slow,omitempty"`
	Recovery RecoveryPolicy `json:"recovery"`
	OnTrip   string         `json:"on_trip"` // override | commit
}

// SlowPolicy trips a flag when at least Rate percent of the calls in the
// window took Duration or longer.
type SlowPolicy struct {
	Duration Duration `json:"duration"`
	Rate     float64  `json:"rate"` // percent
}

// RecoveryPolicy is how the breaker ramps a tripped flag back.
type RecoveryPolicy struct {
	Delay Duration `json:"delay"`
	Start float64  `json:"start"`
	Step  float64  `json:"step"`
	Every Duration `json:"every"`
}

// Duration is a time.Duration that encodes as a Go duration string ("60s").
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string such as "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"60s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
