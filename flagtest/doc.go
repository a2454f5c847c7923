// Package flagtest runs the expectations of a flags repository's tests/
// directory, the files `flagpole test` checks in CI: for one flag, cases
// that evaluate a context (optionally at a given clock) and expect a
// variant, value or reason, and cases that evaluate a generated sample of
// contexts and expect a share of each variant within a tolerance.
//
// Reading and checking the files (strict decoding, file:line:col errors,
// unknown flags and variants) is package loader's (loader.LoadTests); this
// package evaluates the cases with package ruleset, the same evaluation as
// the SDKs and the bearer, overrides included, and explains each failure
// with the ruleset trace of the failing context.
//
// Samples are deterministic: the generated values come from a pseudo-random
// generator with a fixed seed, so a run gives the same shares on every
// machine and every time.
package flagtest
