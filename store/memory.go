package store

import (
	"context"
	"slices"
	"sync"
)

// Memory is a Store inside one process: the embedded default of
// `flagpole serve`. Snapshots are shared, not copied: callers must not
// modify a published snapshot.
type Memory struct {
	mu       sync.Mutex
	snaps    map[string]*Snapshot
	status   *SyncStatus
	watchers map[chan Change]struct{}
	layers   map[string]*Layer // override layers by environment (memory_layer.go)
	metrics  memMetrics        // outcome counts (memory_metrics.go)

	pmu     sync.Mutex           // guards bearers, apart from snapshots
	bearers map[string]memBearer // bearer records by id (memory_presence.go)
}

var _ Store = (*Memory)(nil)

// watchBuffer is how many changes a slow watcher may fall behind before it
// is sent a Resync instead of the changes it missed.
const watchBuffer = 64

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{snaps: map[string]*Snapshot{}, watchers: map[chan Change]struct{}{}}
}

// Publish implements Store.
func (m *Memory) Publish(_ context.Context, s *Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snaps[s.Environment] = s
	m.announce(Change{Environment: s.Environment, Version: s.Version})
	return nil
}

// Remove implements Store.
func (m *Memory) Remove(_ context.Context, env string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.snaps, env)
	delete(m.layers, env)
	m.announce(Change{Environment: env, Removed: true})
	return nil
}

// announce hands c to every watcher. m.mu is held.
func (m *Memory) announce(c Change) {
	for ch := range m.watchers {
		select {
		case ch <- c:
		default:
			// The watcher is behind; tell it to reload everything once it
			// catches up rather than block the publisher.
			m.markResync(ch)
		}
	}
}

// markResync makes room in ch for a Resync by dropping its oldest change.
func (m *Memory) markResync(ch chan Change) {
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- Change{Resync: true}:
	default:
	}
}

// Snapshot implements Store.
func (m *Memory) Snapshot(_ context.Context, env string) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.snaps[env]
	if !ok {
		return nil, ErrNotFound
	}
	return s, nil
}

// Environments implements Store.
func (m *Memory) Environments(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	envs := make([]string, 0, len(m.snaps))
	for env := range m.snaps {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	return envs, nil
}

// Watch implements Store.
func (m *Memory) Watch(ctx context.Context) (<-chan Change, error) {
	ch := make(chan Change, watchBuffer)
	m.mu.Lock()
	m.watchers[ch] = struct{}{}
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.watchers, ch)
		close(ch)
		m.mu.Unlock()
	}()
	return ch, nil
}

// Versions implements Store.
func (m *Memory) Versions(context.Context) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := make(map[string]string, len(m.snaps))
	for env, s := range m.snaps {
		v[env] = s.Version
	}
	return v, nil
}

// PutStatus implements Store.
func (m *Memory) PutStatus(_ context.Context, st *SyncStatus) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status = st
	return nil
}

// Status implements Store. It returns ErrNotFound before the first PutStatus.
func (m *Memory) Status(context.Context) (*SyncStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == nil {
		return nil, ErrNotFound
	}
	return m.status, nil
}

// Close implements Store; it has nothing to release.
func (m *Memory) Close() error { return nil }
