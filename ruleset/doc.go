// Package ruleset owns Flagpole's flag model and its evaluation: the wire
// Document (model.go), its compilation into an immutable, concurrency-safe
// RuleSet, flag evaluation with traces (Evaluate, Explain), the bucketing
// hash shared by every SDK (Hash, Bucket), patches between documents for
// streaming (Diff, Apply) and the context decoder (ParseContext).
//
// The package is pure: it does no I/O and depends only on the standard
// library and github.com/twmb/murmur3.
//
// # Evaluation order
//
// For a flag, Evaluate tries in order: its override (unless expired; during a
// recovery ramp only the users outside the ramp get it), then the schedule
// step in force (every step whose time has come merged over the flag), then
// enabled=false (the off variant, DISABLED), then requires (each
// prerequisite evaluated in the same call with the same context and time;
// one that does not serve a listed variant gives the off variant,
// PREREQUISITE_FAILED), then the rules in order (the first matching rule
// wins: serve gives TARGETING_MATCH, rollout and ramp give SPLIT), then the
// default variant (DEFAULT, or STATIC for a flag without rules,
// prerequisites or schedule). An unknown flag gives ERROR with
// FLAG_NOT_FOUND. Results carry the flag's metadata.
//
// # Time
//
// Overrides' expiry and recovery, ramps, schedules and conditions on "now"
// read the evaluation time (see Context values): nothing is written when a
// step passes. NextChange gives the next instant at which a result can
// change by the clock alone, LastChange the last one, ChangedBetween the
// flags concerned; Compile precomputes them.
//
// # Context values
//
// A Context maps attribute names to string, bool, any Go integer or float
// type, json.Number, time.Time (datetime attributes only) or nil. A nil
// value is treated exactly like a missing attribute. "key" is the stable id
// that users lists, rollouts and recovery ramps use; "now" (an RFC 3339
// string or a time.Time) is the evaluation time and wins over the clock,
// for conditions on "now" and for override expiry and recovery ramps alike.
// A "now" that is not a valid datetime is ignored by overrides (the clock
// is used) and makes conditions on "now" false. The clock is read at most
// once per evaluation, and only when an override or a condition on "now"
// needs it.
//
// # Operators
//
// Every condition is typed by its attribute's declared type, and the
// operator semantics follow that type:
//
//   - string: eq, neq, in, not_in compare exactly (case-sensitive);
//     contains, not_contains, starts_with, ends_with test substrings;
//     matches tests an RE2 regular expression (unanchored: use ^…$ to match
//     the whole value), compiled once by Compile.
//   - boolean: eq, neq, in, not_in.
//   - number: eq, neq, in, not_in, lt, lte, gt, gte on float64; context
//     values of every Go integer and float type (and json.Number) are
//     converted to float64. NaN is not equal to anything.
//   - semver: eq, neq, in, not_in, lt, lte, gt, gte by Semantic Versioning
//     2.0 precedence: major, minor, patch numerically, a pre-release sorts
//     before its release (1.0.0-rc.1 < 1.0.0), pre-release identifiers
//     compare numerically when numeric and in ASCII order otherwise, numeric
//     before alphanumeric, and a longer list wins when all shared identifiers
//     are equal (1.0.0-alpha < 1.0.0-alpha.1). Build metadata (+build) is
//     ignored, so 1.0.0+a eq 1.0.0+b. A leading "v" is accepted.
//   - datetime: eq, neq, in, not_in, lt, lte, gt, gte compare instants.
//     Context values are RFC 3339 strings (or a YYYY-MM-DD date, meaning
//     midnight UTC) or time.Time values.
//   - any type: exists is true when the attribute is present and not null;
//     not_exists is its negation.
//
// A context value of the wrong type (a number for a string attribute, a
// string that is not a semantic version for a semver attribute, ...) makes
// the condition false, whatever the operator, including neq, not_in and
// not_contains; it is never an error. A missing (or null) attribute makes
// every operator false except not_exists. in is true when the value equals
// any operand; not_in when it equals none. The built-in "now" attribute is
// never missing: without it in the context, the clock gives its value.
//
// # Selectors
//
// A rule matches when each selector it has matches: users (the context's
// "key" string is in the list), audiences (the context is in any of them)
// and conditions (all of them, or any with match: any). A rule without
// selectors matches everyone. An audience's conditions combine the same way
// and may reference other audiences ({audience: x}); cycles are compile
// errors. A rollout rule whose "by" attribute is missing does not match, and
// evaluation goes on with the next rule. Non-string "by" values are bucketed
// on their canonical string form: numbers as strconv.FormatFloat(v, 'f', -1,
// 64) (integers as decimal integers), booleans as "true" or "false".
package ruleset
