package sdk

// State is the health of a Client's rule set.
type State int

// States.
const (
	// StateNotReady: no rule set yet and the first connection attempt is
	// still in progress. Evaluations return their defaults.
	StateNotReady State = iota
	// StateReady: the rule set came from the bearer and the stream is live.
	StateReady
	// StateStale: a rule set is being served (the last known one, or the
	// bootstrap), but the stream is down or has been silent for longer
	// than Options.StaleAfter, so it may be out of date.
	StateStale
	// StateError: the bearer refused the key (401 or 403), or no rule set
	// could be obtained at all. The last known rule set, if any, is still
	// served; the client keeps retrying.
	StateError
)

// String returns the state's name as OpenFeature spells provider states,
// such as "READY".
func (s State) String() string {
	switch s {
	case StateNotReady:
		return "NOT_READY"
	case StateReady:
		return "READY"
	case StateStale:
		return "STALE"
	case StateError:
		return "ERROR"
	}
	return "UNKNOWN"
}

// StateChange tells a state watcher that the client moved from one state to
// another, and why.
type StateChange struct {
	From, To State
	// Err is the failure behind a move to StateStale or StateError, nil
	// otherwise. It never contains the SDK key.
	Err error
}

// Change tells a subscriber that the client now serves a new rule set, or
// (Clock) that the clock passed a boundary of the rule set it serves.
type Change struct {
	// Version is the version of the rule set served.
	Version string
	// Flags lists, sorted, the keys of the flags whose evaluation may have
	// changed: flags added, removed or edited, flags whose override
	// changed, and flags that use an audience that changed. The first rule
	// set a client loads lists every flag. For a Clock change, the flags
	// whose results can change at the boundary passed.
	Flags []string
	// Clock is set when nothing new came from the bearer but the client's
	// clock passed an instant at which results change by themselves: a
	// schedule step, a ramp step, an override's expiry or recovery step,
	// a date in a condition on "now" (ruleset.RuleSet.NextChange).
	Clock bool
}
