package loader

import (
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Settings is flagpole.yaml, decoded and with defaults applied.
type Settings struct {
	// Environments in declaration order; the first is the default one.
	Environments []string
	// Keys are the keys (hashed) in file order: SDK keys (server, client)
	// with their one Environment, admin and viewer keys with their
	// Environments (none: every environment).
	Keys []store.Key
	// Triggers are the inbound alert URLs (tokens hashed) in file order,
	// each with its action parsed.
	Triggers []store.Trigger
	// Breaker holds the breaker defaults every flag's breaker block is merged
	// over. Fields flagpole.yaml leaves out take DefaultBreaker's values.
	Breaker ruleset.Breaker
	// BreakerDeclared is true when flagpole.yaml has a breaker block. Flags
	// get breaker settings when it does or when they have their own block.
	BreakerDeclared bool
	Writeback       Writeback
	Notify          []Notify
}

// Writeback says where the breaker and `flagpole override` commit.
type Writeback struct {
	// Branch to commit to; "" means the branch being synced.
	Branch string
	// Author of the commits; default flagpole <flagpole@localhost>.
	Author Author
}

// Author is a git identity.
type Author struct {
	Name  string
	Email string
}

// Notify is one webhook told about breaker and sync events. URL and Secret
// are kept as written, ${VAR} references unexpanded: the notifier expands
// them from its environment when it sends, so secrets never enter the
// rule set, logs or errors.
type Notify struct {
	URL    string
	Format string   // slack | json
	Secret string   // HMAC key for format json; "" when unsigned
	Events []string // trip, recover, override, sync_error; all when not given
}

// NotifyEvents are the events a Notify entry gets when it lists none.
var NotifyEvents = []string{"trip", "recover", "override", "sync_error"}

// Attribute is one declared context attribute.
type Attribute struct {
	Name        string
	Type        ruleset.AttrType
	Description string
	// Builtin is true for key and now, which exist without declaration.
	Builtin bool
}

// DefaultBreaker returns the breaker settings used where flagpole.yaml
// says nothing: a 60 s window, at least 100 requests, trip above 10 %
// errors, recover after 5 m from 10 % in steps of 10 % every minute, and
// record trips as override files.
func DefaultBreaker() ruleset.Breaker {
	return ruleset.Breaker{
		Window:      ruleset.Duration(60 * time.Second),
		MinRequests: 100,
		ErrorRate:   10,
		Recovery: ruleset.RecoveryPolicy{
			Delay: ruleset.Duration(5 * time.Minute),
			Start: 10,
			Step:  10,
			Every: ruleset.Duration(time.Minute),
		},
		OnTrip: "override",
	}
}

// Repo is a loaded, validated flags repository.
type Repo struct {
	// Dir is the repository directory as given to Load.
	Dir string
	// Version is Options.Revision, or a content hash of the files read.
	Version    string
	Settings   Settings
	Attributes []Attribute // key and now first, then as declared
	// Documents holds one rule set per environment, overlays, breaker
	// defaults and overrides merged in.
	Documents map[string]*ruleset.Document
	// Changes holds, for the environments whose Document this load made by
	// patching the last load's (through a Cache), how: the flags it named
	// (ruleset.Change). A publisher hands it on with the Document
	// (store.Snapshot.Change).
	Changes map[string]*ruleset.Change
	// RuleSets holds each Document compiled with Options.Now as its clock.
	// Documents and rule sets share data: treat both as read-only.
	RuleSets map[string]*ruleset.RuleSet
	// Warnings found while loading (stale flags, ignored files, ...).
	Warnings Diagnostics
}
