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
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// ErrNotFound is returned when an environment has no snapshot yet.
var ErrNotFound = errors.New("store: no snapshot")

// KeyKind says what an SDK key may see.
type KeyKind string

// Key kinds.
const (
	KeyServer KeyKind = "server" // the full rule set of its environment
	KeyClient KeyKind = "client" // evaluated values of client flags only
)

// Key is an SDK key as declared in flagpole.yaml: only its SHA-256 is kept.
type Key struct {
	Name        string  `json:"name"`
	Environment string  `json:"environment"`
	Kind        KeyKind `json:"kind"`
	SHA256      string  `json:"sha256"` // 64 lowercase hex digits
}

// Snapshot is what the syncer publishes for one environment: the rule set
// and the SDK keys allowed to read it. Keys never leave the bearer.
type Snapshot struct {
	Environment string            `json:"environment"`
	Version     string            `json:"version"` // equals Document.Version
	Document    *ruleset.Document `json:"document"`
	Keys        []Key             `json:"keys"`
	Published   time.Time         `json:"published"`
}

// Change announces that an environment has a new snapshot, or a changed
// override layer (Overrider; Version is then empty). Resync is set
// (with Environment empty) when the subscriber may have missed changes,
// for example after a reconnect to Redis: reload every environment.
type Change struct {
	Environment string
	Version     string
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
}

// EnvStatus is one environment's published version.
type EnvStatus struct {
	Version   string    `json:"version"`
	Commit    string    `json:"commit,omitempty"`
	Published time.Time `json:"published"`
}

// SyncError is why the last sync did not publish.
type SyncError struct {
	Commit  string    `json:"commit,omitempty"`
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	// Problems lists each validation error as "file:line:col: path: message".
	Problems []string `json:"problems,omitempty"`
}

// Store is where snapshots are published and read.
type Store interface {
	// Publish makes s the current snapshot of its environment and tells
	// every watcher.
	Publish(ctx context.Context, s *Snapshot) error
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
	// Close releases the store's connections.
	Close() error
}
