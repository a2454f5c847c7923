package store

import (
	"context"
	"maps"
)

var _ Overrider = (*Memory)(nil)

// SetOverride implements Overrider.
func (m *Memory) SetOverride(_ context.Context, env string, e LayerEntry) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap, ok := m.snaps[env]
	if !ok {
		return 0, ErrNotFound
	}
	e, err := CheckEntry(snap.Document, env, e)
	if err != nil {
		return 0, err
	}
	l := m.layer(env)
	l.Seq++
	e.Seq = l.Seq
	l.Entries[e.Flag] = e
	m.announce(Change{Environment: env})
	return e.Seq, nil
}

// Layer implements Overrider. The entries are a copy.
func (m *Memory) Layer(_ context.Context, env string) (Layer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.layers[env]
	if !ok {
		return Layer{Entries: map[string]LayerEntry{}}, nil
	}
	return Layer{Seq: l.Seq, Entries: maps.Clone(l.Entries)}, nil
}

// DropOverride implements Overrider.
func (m *Memory) DropOverride(_ context.Context, env, flag string, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.layers[env]
	if !ok {
		return nil
	}
	if e, ok := l.Entries[flag]; !ok || e.Seq != seq {
		return nil
	}
	delete(l.Entries, flag)
	l.Seq++
	m.announce(Change{Environment: env})
	return nil
}

// layer returns env's layer, creating it. m.mu is held.
func (m *Memory) layer(env string) *Layer {
	if m.layers == nil {
		m.layers = map[string]*Layer{}
	}
	l, ok := m.layers[env]
	if !ok {
		l = &Layer{Entries: map[string]LayerEntry{}}
		m.layers[env] = l
	}
	return l
}
