package ruleset

import "time"

// Context holds the attributes of the user or entity a flag is evaluated
// for. Values are string, bool, float64 (any Go integer or float type is
// accepted), or nil. "key" is the stable id used by users lists and
// rollouts; "now" (an RFC 3339 string or time.Time) overrides the clock.
type Context map[string]any

// Reason says why an evaluation produced its value (OpenFeature names).
type Reason int

// Reasons.
const (
	ReasonDefault        Reason = iota // no rule matched: the flag's default variant
	ReasonTargetingMatch               // a rule matched and served a variant
	ReasonSplit                        // a rule matched and its rollout chose the variant
	ReasonDisabled                     // the flag is disabled: its off variant
	ReasonOverride                     // an override served its variant
	ReasonError                        // see ErrorCode
	// ReasonStatic: the flag has no rules, prerequisites or schedule, so
	// every context gets its default variant.
	ReasonStatic
	// ReasonPrerequisiteFailed: a prerequisite did not serve one of the
	// listed variants, so the flag serves its off variant.
	ReasonPrerequisiteFailed
)

// String returns the OpenFeature name of r, such as "TARGETING_MATCH".
func (r Reason) String() string {
	switch r {
	case ReasonDefault:
		return "DEFAULT"
	case ReasonTargetingMatch:
		return "TARGETING_MATCH"
	case ReasonSplit:
		return "SPLIT"
	case ReasonDisabled:
		return "DISABLED"
	case ReasonOverride:
		return "OVERRIDE"
	case ReasonError:
		return "ERROR"
	case ReasonStatic:
		return "STATIC"
	case ReasonPrerequisiteFailed:
		return "PREREQUISITE_FAILED"
	}
	return "UNKNOWN"
}

// ErrorCode qualifies ReasonError (OpenFeature names).
type ErrorCode int

// Error codes.
const (
	ErrorNone         ErrorCode = iota
	ErrorFlagNotFound           // no flag with that key
	ErrorTypeMismatch           // the caller asked for another type than the flag's
	ErrorParseError             // the context or rule set could not be parsed
	ErrorGeneral                // anything else
)

// String returns the OpenFeature name of c, such as "FLAG_NOT_FOUND"; "" for ErrorNone.
func (c ErrorCode) String() string {
	switch c {
	case ErrorNone:
		return ""
	case ErrorFlagNotFound:
		return "FLAG_NOT_FOUND"
	case ErrorTypeMismatch:
		return "TYPE_MISMATCH"
	case ErrorParseError:
		return "PARSE_ERROR"
	case ErrorGeneral:
		return "GENERAL"
	}
	return "GENERAL"
}

// Result is the outcome of evaluating one flag.
type Result struct {
	// Value is the variant's value: bool, string, float64, or for json flags
	// the decoded value (map[string]any, []any, ...), shared between calls
	// and never to be modified. Nil when the flag was not found.
	Value     any
	Variant   string
	Reason    Reason
	ErrorCode ErrorCode
	Rule      int    // index of the matching rule, -1 if none
	RuleName  string // name of the matching rule, if it has one
	// Metadata is the flag's metadata (string, float64 and bool values),
	// shared between calls and never to be modified; nil when it has none.
	Metadata map[string]any
}

// Options tunes Compile. The zero value is ready to use.
type Options struct {
	// Now is the clock used for overrides, recovery ramps, ramps,
	// schedules and the built-in "now" attribute when the context has
	// none. Zero: time.Now.
	Now func() time.Time
}
