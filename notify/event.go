package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kind is what an Event is about; its String is the name flagpole.yaml's
// notify events list uses.
type Kind int

// Kinds of events.
const (
	// KindOverride: an override was set, cleared or expired.
	KindOverride Kind = iota + 1
	// KindSyncError: a commit could not be loaded (or fetched, or
	// published); the last good rule set keeps serving.
	KindSyncError
	// KindTrip: the breaker turned a flag off.
	KindTrip
	// KindRecover: the breaker's recovery ramp reached 100 %.
	KindRecover
)

// String is override, sync_error, trip or recover.
func (k Kind) String() string {
	switch k {
	case KindOverride:
		return "override"
	case KindSyncError:
		return "sync_error"
	case KindTrip:
		return "trip"
	case KindRecover:
		return "recover"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Action is what happened to an override.
type Action int

// Actions of KindOverride events.
const (
	ActionNone Action = iota
	ActionSet
	ActionCleared
	ActionExpired
)

// String is "", set, cleared or expired.
func (a Action) String() string {
	switch a {
	case ActionNone:
		return ""
	case ActionSet:
		return "set"
	case ActionCleared:
		return "cleared"
	case ActionExpired:
		return "expired"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Event is one thing to tell people. Fields that do not apply stay zero.
type Event struct {
	Kind   Kind
	Action Action // KindOverride only
	Flag   string
	// Environment the event concerns.
	Environment string
	// Variant served by an override or a trip.
	Variant string
	// Who asked (admin key name, trigger, "breaker"); Reason why.
	Who, Reason string
	// Expires is when an override stops applying; nil for never.
	Expires *time.Time
	// Commit is the hash of the commit that recorded the event (or, for
	// sync_error, the commit that failed); CommitURL links to it (see
	// CommitURL).
	Commit, CommitURL string
	// Problems are the first problems of a sync_error, file:line:col:
	// path: message.
	Problems []string
	// At is when it happened; zero means when Send was called.
	At time.Time
}

// CommitURL returns the web page of commit hash in the repository at
// remote when remote is an https URL of GitHub, GitLab or Gitea (github.com,
// gitlab.com, codeberg.org, or a host whose name starts with "github.",
// "gitlab.", "gitea." or "forgejo."), else "". Credentials in remote are
// dropped.
func CommitURL(remote, hash string) string {
	u, err := url.Parse(remote)
	if err != nil || u.Scheme != "https" || u.Host == "" || hash == "" || strings.ContainsAny(hash, "/?#") {
		return ""
	}
	repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if strings.Count(repo, "/") < 1 {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	has := func(name string) bool { return host == name+".com" || strings.HasPrefix(host, name+".") }
	var sep string
	switch {
	case has("github"):
		sep = "/commit/"
	case has("gitlab"):
		sep = "/-/commit/"
	case host == "codeberg.org" || strings.HasPrefix(host, "gitea.") || strings.HasPrefix(host, "forgejo."):
		sep = "/commit/"
	default:
		return ""
	}
	return "https://" + u.Host + "/" + repo + sep + hash
}

// title is the event in a few words: the Slack header and the start of
// every summary.
func (e Event) title() string {
	where := e.Flag + " in " + e.Environment
	switch e.Kind {
	case KindOverride:
		switch e.Action {
		case ActionCleared:
			return "Override cleared: " + where
		case ActionExpired:
			return "Override expired: " + where
		}
		return fmt.Sprintf("Override: %s serves %s in %s", e.Flag, e.Variant, e.Environment)
	case KindTrip:
		return fmt.Sprintf("Breaker tripped: %s serves %s in %s", e.Flag, e.Variant, e.Environment)
	case KindRecover:
		return "Breaker recovered: " + where
	case KindSyncError:
		if e.Commit != "" {
			return "Sync error: commit " + short(e.Commit) + " not published"
		}
		return "Sync error"
	}
	return e.Kind.String()
}

// change says what changed for users, for the "what changed" field.
func (e Event) change() string {
	var s string
	switch {
	case e.Kind == KindOverride && e.Action != ActionSet && e.Action != ActionNone,
		e.Kind == KindRecover:
		s = "evaluated by its rules again"
	case e.Kind == KindOverride || e.Kind == KindTrip:
		s = "serves " + e.Variant + " to everyone"
		if e.Expires != nil {
			s += " until " + e.Expires.UTC().Format(time.RFC3339)
		}
	case e.Kind == KindSyncError:
		s = "nothing: the last good rule set keeps serving"
	}
	return s
}

// summary is the one-line text of the event.
func (e Event) summary() string {
	s := e.title()
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Who != "" {
		s += " by " + e.Who
	}
	return s
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
