package dashboard

import (
	"context"

	"github.com/flagpole/flagpole/store"
)

// bearers adds to the sync state out the bearers connected to the store
// (store.Presence), with only the environments p may see (all when p is
// nil), each marked stale when it missed its heartbeats, and "now" (the
// dashboard's clock) for the page to age last_seen with.
func (d *Dashboard) bearers(ctx context.Context, p *principal, out map[string]any) {
	now := d.opts.Clock.Now().UTC()
	out["now"] = now
	list, err := d.opts.Store.Bearers(ctx)
	if err != nil {
		out["bearers_error"] = "listing the bearers: " + err.Error()
		return
	}
	may := func(string) bool { return true }
	if p != nil {
		may = p.may
	}
	out["bearers"] = store.ViewBearers(list, may, now)
}
