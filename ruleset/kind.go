package ruleset

import "time"

// Kind is what a flag is for, which says how long it is expected to live
// (stale detection uses it when the flag has no expires date).
type Kind string

// Flag kinds. The zero Kind means the flag does not say.
const (
	KindRelease     Kind = "release"     // ships a change gradually; removed once fully out
	KindExperiment  Kind = "experiment"  // an A/B test; removed when it has concluded
	KindOperational Kind = "operational" // a temporary operational switch (a migration, an incident)
	KindKillSwitch  Kind = "kill-switch" // turns a feature off in an emergency; permanent
	KindPermission  Kind = "permission"  // gates a feature for some users; permanent
)

// Kinds returns every flag kind, in the order the documentation lists them.
func Kinds() []Kind {
	return []Kind{KindRelease, KindExperiment, KindOperational, KindKillSwitch, KindPermission}
}

// Valid reports whether k is one of Kinds or the empty Kind.
func (k Kind) Valid() bool {
	if k == "" {
		return true
	}
	for _, v := range Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// Lifetime returns how long a flag of kind k is expected to live: 40 days
// for release and experiment flags, 7 days for operational ones. It
// returns ok false for permanent kinds (kill-switch, permission) and for
// the empty or an unknown Kind.
func (k Kind) Lifetime() (d time.Duration, ok bool) {
	const day = 24 * time.Hour
	switch k {
	case KindRelease, KindExperiment:
		return 40 * day, true
	case KindOperational:
		return 7 * day, true
	}
	return 0, false
}

// Permanent reports whether flags of kind k are meant to stay (kill-switch,
// permission).
func (k Kind) Permanent() bool {
	return k == KindKillSwitch || k == KindPermission
}
