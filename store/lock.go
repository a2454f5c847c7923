package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrLockNotHeld is returned by Release when the lock was already lost or
// released.
var ErrLockNotHeld = errors.New("store: lock not held")

// DefaultLockTTL is how long a leader lock lives without renewal unless
// options say otherwise; a standby takes over within about this long after
// the leader dies without releasing it.
const DefaultLockTTL = 10 * time.Second

// Locker hands out named leader locks so that only one syncer (or breaker)
// acts at a time, whatever number run.
type Locker interface {
	// Acquire blocks until the caller holds the lock called name, or ctx is
	// done (then it returns ctx's error).
	Acquire(ctx context.Context, name string) (Lock, error)
}

// Lock is a held leader lock. The holder must stop acting as leader as soon
// as Lost is closed, and call Release when it stops.
type Lock interface {
	// Lost is closed when the lock can no longer be trusted: renewal failed
	// for too long, someone else holds it, or it was released.
	Lost() <-chan struct{}
	// Release gives the lock up so that a standby can take over at once.
	Release(ctx context.Context) error
}

// MemoryLocker is a Locker inside one process, for the embedded default and
// for tests. The zero value is not usable; call NewMemoryLocker.
type MemoryLocker struct {
	mu    sync.Mutex
	held  map[string]*memoryLock
	freed chan struct{} // closed and replaced on every release
}

var _ Locker = (*MemoryLocker)(nil)

// NewMemoryLocker returns a Locker with no locks held.
func NewMemoryLocker() *MemoryLocker {
	return &MemoryLocker{held: map[string]*memoryLock{}, freed: make(chan struct{})}
}

// Acquire implements Locker.
func (m *MemoryLocker) Acquire(ctx context.Context, name string) (Lock, error) {
	for {
		m.mu.Lock()
		if _, taken := m.held[name]; !taken {
			l := &memoryLock{locker: m, name: name, lost: make(chan struct{})}
			m.held[name] = l
			m.mu.Unlock()
			return l, nil
		}
		freed := m.freed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-freed:
		}
	}
}

// memoryLock is a lock held in a MemoryLocker.
type memoryLock struct {
	locker *MemoryLocker
	name   string
	lost   chan struct{}
}

// Lost implements Lock.
func (l *memoryLock) Lost() <-chan struct{} { return l.lost }

// Release implements Lock.
func (l *memoryLock) Release(context.Context) error {
	m := l.locker
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[l.name] != l {
		return ErrLockNotHeld
	}
	delete(m.held, l.name)
	close(l.lost)
	close(m.freed)
	m.freed = make(chan struct{})
	return nil
}
