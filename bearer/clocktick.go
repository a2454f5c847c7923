package bearer

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// minTickInterval is the shortest time between two clock ticks of a hub:
// boundaries closer than that (a recovery ramp stepping every millisecond,
// the instant and the nanosecond after it of a condition on "now") are
// served together, at most this late.
const minTickInterval = 250 * time.Millisecond

// clockTimer fires at the next clock boundary of a hub's rule set
// (ruleset.RuleSet.NextChange), on the server's clock so that tests can
// drive it with a fake one. Its channel is nil while no boundary is ahead.
type clockTimer struct {
	t clockwork.Timer
	c <-chan time.Time
}

// armTick sets ct for the next boundary of st's rule set after now, or
// minTickInterval from now when the boundary is closer than that.
func (h *hub) armTick(ct *clockTimer, st *envState) {
	ct.stop()
	clock := h.srv.opts.Clock
	now := clock.Now()
	next, ok := st.rs.NextChange(now)
	if !ok {
		h.nextTick.Store(0)
		return
	}
	d := max(next.Sub(now), minTickInterval)
	h.nextTick.Store(now.Add(d).UnixNano())
	ct.t = clock.NewTimer(d)
	ct.c = ct.t.Chan()
}

// stop stops the timer, if any.
func (ct *clockTimer) stop() {
	if ct.t != nil {
		ct.t.Stop()
	}
	ct.t, ct.c = nil, nil
}
