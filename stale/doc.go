// Package stale finds the flags of a repository that are dead weight:
// flags past their `expires` date, flags without one that have outlived
// their kind's expected lifetime (the age of a flag is that of its file in
// git: the first commit that added it), and flags that serve the same
// variant, with the same value, to everyone in every environment, whose
// code paths can go.
//
// The analysis is conservative: a flag is called constant only when its
// rules provably cannot serve another variant (every rule and the default
// lead to one variant, or the flag is disabled everywhere). A flag with an
// override in force, with fields this analysis does not model
// (prerequisites, schedules, ramps), or of a permanent kind (kill-switch,
// permission: serving one variant is their normal state) is never called
// constant. Every
// finding says why it was listed.
package stale
