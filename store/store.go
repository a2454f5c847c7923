// Package store carries compiled rule sets from the one active syncer to
// every bearer: in memory inside one process (Memory), or through Redis
// across many (package store/redisstore). It is public so that a service
// outside this module can run a bearer or a syncer on either.
//
// Git stays the source of truth: a store may be emptied at any time and is
// refilled by the syncer's next publish.
package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// ErrNotFound is returned when an environment has no snapshot yet.
var ErrNotFound = errors.New("store: no snapshot")

// KeyKind says what a key may do.
type KeyKind string

// Key kinds. Server and client keys are SDK keys, each for one environment;
// admin and viewer keys are for people and tools, for a list of
// environments, and are refused on the SDK endpoints.
const (
	KeyServer KeyKind = "server" // the full rule set of its environment
	KeyClient KeyKind = "client" // evaluated values of client flags only
	KeyAdmin  KeyKind = "admin"  // overrides through the admin API and the dashboard
	KeyViewer KeyKind = "viewer" // the read-only dashboard and status detail
)

// SDK reports whether k is a kind of SDK key (server or client).
func (k KeyKind) SDK() bool { return k == KeyServer || k == KeyClient }

// Key is a key as declared in flagpole.yaml: only its SHA-256 is kept.
type Key struct {
	Name string `json:"name"`
	// Environment is the one environment of an SDK key; "" for admin and
	// viewer keys.
	Environment string `json:"environment"`
	// Environments are the environments of an admin or viewer key; none
	// means every environment.
	Environments []string `json:"environments,omitempty"`
	Kind         KeyKind  `json:"kind"`
	SHA256       string   `json:"sha256"` // 64 lowercase hex digits
}

// Applies reports whether k is a key of environment env: its Environment
// when it has one, else one of its Environments, or any when it lists none.
func (k Key) Applies(env string) bool {
	if k.Environment != "" {
		return k.Environment == env
	}
	return len(k.Environments) == 0 || slices.Contains(k.Environments, env)
}

// Snapshot is what the syncer publishes for one environment: the rule set
// and the keys of that environment (SDK keys, and the admin and viewer keys
// that apply to it). Keys never leave the bearer.
type Snapshot struct {
	Environment string            `json:"environment"`
	Version     string            `json:"version"` // equals Document.Version
	Document    *ruleset.Document `json:"document"`
	Keys        []Key             `json:"keys"`
	// Triggers are the inbound alert URLs (tokens hashed) whose flag is in
	// this environment. Like keys, they never leave the bearer.
	Triggers  []Trigger `json:"triggers,omitempty"`
	Published time.Time `json:"published"`
	// Compiled, when set, is Document compiled by the publisher (the
	// syncer's loader), so that a bearer in the same process (Memory store)
	// shares it instead of compiling and holding a second copy. It is
	// read-only, like the Document, and never encoded: a snapshot read
	// from Redis has none and is compiled by the bearer. A reader serves
	// it for a Document with the same entries only (RuleSet.Rebind).
	Compiled *ruleset.RuleSet `json:"-"`
	// Change, when set, says how Document was made from another Document:
	// by the store, from one its caller held (redisstore's
	// SnapshotSince), or by the publisher, from the one it published
	// before (the syncer's loader). A reader that still holds the base
	// compiles, encodes and diffs the named flags only. Never encoded.
	Change *ruleset.Change `json:"-"`
}

// ChangedFrom returns the keys of the flags s's Document changed from
// base (see ruleset.Change), and false when s does not say how it was
// made from base.
func (s *Snapshot) ChangedFrom(base *ruleset.Document) ([]string, bool) {
	if s == nil {
		return nil, false
	}
	return s.Change.From(base)
}

// Change announces that an environment has a new snapshot, a changed
// override layer (Overrider; Version is then empty), or with Removed that
// it has none any more (removed from flagpole.yaml): its keys are revoked
// and its streams must end. Resync is set (with Environment empty) when the
// subscriber may have missed changes, for example after a reconnect to
// Redis: reload every environment, and drop those the store no longer
// lists.
type Change struct {
	Environment string
	Version     string
	Removed     bool
	Resync      bool
}

// SyncStatus is the syncer's view of the repository, kept in the store so
// that every bearer can show it in /v1/status.
type SyncStatus struct {
	Source    string               `json:"source"` // repository URL or path, credentials stripped
	Branch    string               `json:"branch,omitempty"`
	Commit    string               `json:"commit,omitempty"`    // last commit seen (good or bad)
	Published string               `json:"published,omitempty"` // last commit published
	LastSync  time.Time            `json:"last_sync"`
	LastError *SyncError           `json:"last_error,omitempty"`
	Envs      map[string]EnvStatus `json:"environments,omitempty"`
	// Leader is the advertised HTTP address of the syncer that wrote this
	// status (the leader), for the admin API of a standby to point at.
	Leader string `json:"leader,omitempty"`
}

// EnvStatus is one environment's published version.
type EnvStatus struct {
	Version   string    `json:"version"`
	Commit    string    `json:"commit,omitempty"`
	Published time.Time `json:"published"`
}

// SyncError is why the last sync did not publish. The syncer bounds it
// (see docs/security.md): a few kilobytes per problem listed, a few hundred
// problems at most, whatever the repository holds.
type SyncError struct {
	Commit  string    `json:"commit,omitempty"`
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	// Problems lists validation errors as "file:line:col: path: message",
	// the first of each file and of the sync only; messages may quote the
	// repository's files.
	Problems []string `json:"problems,omitempty"`
	// Locations is Problems without the messages: "file:line:col: path".
	Locations []string `json:"locations,omitempty"`
	// Count is how many validation errors there were, listed or not.
	Count int `json:"problem_count,omitempty"`
}

// Anonymous returns st as callers without a key may see it: each problem
// reduced to its location ("file:line:col: path"), since messages may quote
// the repository's files.
func (st SyncStatus) Anonymous() SyncStatus {
	if st.LastError != nil {
		e := *st.LastError
		e.Problems, e.Locations = e.Locations, nil
		st.LastError = &e
	}
	return st
}

// Store is where snapshots are published and read.
type Store interface {
	// Publish makes s the current snapshot of its environment and tells
	// every watcher.
	Publish(ctx context.Context, s *Snapshot) error
	// Remove deletes env's snapshot and tells every watcher (a Change with
	// Removed), atomically. Removing an absent environment is not an error.
	Remove(ctx context.Context, env string) error
	// Snapshot returns the current snapshot of env, or ErrNotFound.
	Snapshot(ctx context.Context, env string) (*Snapshot, error)
	// Environments lists the environments that have a snapshot, sorted.
	Environments(ctx context.Context) ([]string, error)
	// Versions maps each environment that has a snapshot to its version,
	// without reading the snapshots: the syncer's check that the store
	// still holds what it published (Redis flushed, or a failover that
	// lost the last write).
	Versions(ctx context.Context) (map[string]string, error)
	// Watch delivers changes until ctx is done, then closes the channel.
	Watch(ctx context.Context) (<-chan Change, error)
	// PutStatus records the syncer's status; Status reads it back.
	PutStatus(ctx context.Context, st *SyncStatus) error
	Status(ctx context.Context) (*SyncStatus, error)
	// Presence records the bearers that read this store, for the
	// dashboard and /v1/status (presence.go).
	Presence
	// Close releases the store's connections.
	Close() error
}
