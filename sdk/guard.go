package sdk

import (
	"context"

	"github.com/flagpole/flagpole/ruleset"
)

// Guard runs the code path that flag guards and reports how it went, for
// the breaker that turns the flag off when the new path fails too often.
//
// It evaluates flag for evalCtx. newPath runs when the flag is on: a
// boolean flag serves true, or a flag of another type serves any variant
// but its off variant (the one served when it is disabled or killed).
// Otherwise, or when the flag cannot be evaluated (unknown, no rule set
// yet), oldPath runs and nothing is recorded.
//
// A run of newPath is recorded as a success or a failure (Record), and as
// slow when it took at least the flag's breaker slow duration (none when
// the rule set has none). When newPath fails, oldPath runs and its result
// is returned: the caller sees the old behaviour, the breaker sees the
// failure. A failure while ctx is done (the caller gave up) is neither
// recorded nor retried on oldPath: newPath's result is returned as it is.
func Guard[T any](c *Client, ctx context.Context, flag string, evalCtx Context, newPath, oldPath func(context.Context) (T, error)) (T, error) {
	snap, on := c.guardOn(flag, evalCtx)
	if !on {
		return oldPath(ctx)
	}
	slowAfter := snap.slowAfter(flag)
	start := c.clock.Now()
	v, err := newPath(ctx)
	slow := slowAfter > 0 && c.clock.Since(start) >= slowAfter
	if err != nil && ctx.Err() != nil {
		return v, err
	}
	c.count(flag, err != nil, slow)
	if err == nil {
		return v, nil
	}
	return oldPath(ctx)
}

// guardOn reports whether flag is on for evalCtx (see Guard), with the
// rule set it was evaluated on.
func (c *Client) guardOn(flag string, evalCtx Context) (*snapshot, bool) {
	snap := c.snap.Load()
	if snap == nil {
		return nil, false
	}
	f := snap.doc.Flags.Get(flag)
	if f == nil {
		return nil, false
	}
	r := snap.rs.Evaluate(flag, evalCtx)
	if r.Reason == ruleset.ReasonError {
		return nil, false
	}
	if b, ok := r.Value.(bool); ok && flagType(f) == ruleset.TypeBoolean {
		return snap, b
	}
	return snap, r.Variant != f.Off
}
