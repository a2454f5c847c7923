package bearer

import (
	"context"
	"fmt"

	"github.com/flagpole/flagpole/store"
)

// layerStore is a store with a runtime override layer (store.Overrider):
// store.Memory and redisstore.Redis. A Store without one serves its
// snapshots as they are.
type layerStore interface {
	Layer(ctx context.Context, env string) (store.Layer, error)
}

// withLayer returns snap with its environment's override layer applied and
// its version the served version (store.ServedVersion). Entries that no
// longer fit the rule set are left out and logged: a layer entry never
// stops an environment from loading.
func (s *Server) withLayer(ctx context.Context, snap *store.Snapshot) (*store.Snapshot, error) {
	ls, ok := s.opts.Store.(layerStore)
	if !ok || snap.Document == nil {
		return snap, nil
	}
	l, err := ls.Layer(ctx, snap.Environment)
	if err != nil {
		return nil, fmt.Errorf("reading override layer of environment %s: %w", snap.Environment, err)
	}
	doc, skipped := l.Apply(snap.Document)
	for _, err := range skipped {
		s.log.Warn("override layer entry does not fit the rule set; git's override applies", "environment", snap.Environment, "version", doc.Version, "error", err)
	}
	out := *snap
	out.Version, out.Document = doc.Version, doc
	return &out, nil
}
