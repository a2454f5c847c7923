package bearer

import (
	"context"

	"github.com/flagpole/flagpole/store"
)

// patchStore is implemented by stores that can bring a snapshot the bearer
// holds up to date from the patches they announced (redisstore), instead
// of reading the whole snapshot: at 100,000 flags a one-flag change then
// moves and decodes one flag.
type patchStore interface {
	SnapshotSince(ctx context.Context, env string, have *store.Snapshot) (*store.Snapshot, error)
}

// snapshot reads env's current snapshot, from the one being served when the
// store can patch it.
func (s *Server) snapshot(ctx context.Context, env string) (*store.Snapshot, error) {
	var have *store.Snapshot
	if h := s.hub(env); h != nil {
		have = h.cur.Load().raw
	}
	var got *store.Snapshot
	var err error
	if ps, ok := s.opts.Store.(patchStore); ok {
		got, err = ps.SnapshotSince(ctx, env, have)
	} else {
		got, err = s.opts.Store.Snapshot(ctx, env)
	}
	// A snapshot that shares no flag with the one served was built whole:
	// decoded from the store, or (store.Memory in flagpole serve) loaded
	// whole by the syncer in this process. Either left garbage worth
	// returning (memory.go).
	if err == nil && got != have && !sharesFlags(have, got) {
		s.wholeReads.Add(1)
	}
	return got, err
}
