package sdk

import (
	"fmt"
	"math"

	"github.com/flagpole/flagpole/ruleset"
)

// Context holds the attributes a flag is evaluated for; "key" is the stable
// id of the user or entity. See ruleset.Context for the accepted values.
type Context = ruleset.Context

// Detail is the full outcome of one evaluation: the value served (the
// caller's default when Reason is ReasonError) and why.
type Detail[T any] struct {
	// Value is the flag's value, or the default the caller passed when the
	// evaluation failed. For JSON flags it is shared: never modify it.
	Value T
	// Variant is the name of the variant served; empty on error.
	Variant string
	// Reason says why Value was served (OpenFeature names via String).
	Reason ruleset.Reason
	// ErrorCode qualifies ReasonError: FLAG_NOT_FOUND, TYPE_MISMATCH, or
	// GENERAL (no rule set loaded yet, or an evaluation failure).
	ErrorCode ruleset.ErrorCode
	// ErrorMessage explains ErrorCode for people; empty without error.
	ErrorMessage string
	// Rule is the index of the matching rule, -1 if none; RuleName its name.
	Rule     int
	RuleName string
	// Version is the version of the rule set evaluated; empty before any.
	Version string
	// Metadata is the flag's metadata (string, float64 and bool values),
	// shared between calls: never modify it. Nil when it has none.
	Metadata map[string]any
}

// Bool returns the value of the boolean flag key for ctx, or def when the
// flag is unknown, not boolean, or no rule set is loaded yet.
func (c *Client) Bool(key string, ctx Context, def bool) bool {
	return c.BoolDetail(key, ctx, def).Value
}

// String returns the value of the string flag key for ctx, or def.
func (c *Client) String(key string, ctx Context, def string) string {
	return c.StringDetail(key, ctx, def).Value
}

// Float returns the value of the number flag key for ctx, or def.
func (c *Client) Float(key string, ctx Context, def float64) float64 {
	return c.FloatDetail(key, ctx, def).Value
}

// Int returns the value of the number flag key for ctx, or def; a value
// that is not a whole number within int64 range is a type mismatch.
func (c *Client) Int(key string, ctx Context, def int64) int64 {
	return c.IntDetail(key, ctx, def).Value
}

// JSON returns the value of the json flag key for ctx (decoded: maps,
// slices, strings, float64, bool or nil; shared, never to be modified), or
// def.
func (c *Client) JSON(key string, ctx Context, def any) any {
	return c.JSONDetail(key, ctx, def).Value
}

// BoolDetail is Bool with the variant, reason and error of the evaluation.
func (c *Client) BoolDetail(key string, ctx Context, def bool) Detail[bool] {
	return evaluate(c, key, ctx, def, ruleset.TypeBoolean, func(v any) (bool, bool) {
		b, ok := v.(bool)
		return b, ok
	})
}

// StringDetail is String with the variant, reason and error.
func (c *Client) StringDetail(key string, ctx Context, def string) Detail[string] {
	return evaluate(c, key, ctx, def, ruleset.TypeString, func(v any) (string, bool) {
		s, ok := v.(string)
		return s, ok
	})
}

// FloatDetail is Float with the variant, reason and error.
func (c *Client) FloatDetail(key string, ctx Context, def float64) Detail[float64] {
	return evaluate(c, key, ctx, def, ruleset.TypeNumber, func(v any) (float64, bool) {
		f, ok := v.(float64)
		return f, ok
	})
}

// IntDetail is Int with the variant, reason and error.
func (c *Client) IntDetail(key string, ctx Context, def int64) Detail[int64] {
	return evaluate(c, key, ctx, def, ruleset.TypeNumber, func(v any) (int64, bool) {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	})
}

// JSONDetail is JSON with the variant, reason and error.
func (c *Client) JSONDetail(key string, ctx Context, def any) Detail[any] {
	return evaluate(c, key, ctx, def, ruleset.TypeJSON, func(v any) (any, bool) { return v, true })
}

// Evaluate evaluates the flag key whatever its type; Value is nil on error.
func (c *Client) Evaluate(key string, ctx Context) Detail[any] {
	return evaluate(c, key, ctx, nil, "", func(v any) (any, bool) { return v, true })
}

// evaluate checks the flag's type against want (any type when want is
// empty), evaluates it on the current rule set and converts the value. It
// reads one atomic pointer and never blocks.
func evaluate[T any](c *Client, key string, ctx Context, def T, want ruleset.FlagType, conv func(any) (T, bool)) Detail[T] {
	d := Detail[T]{Value: def, Reason: ruleset.ReasonError, Rule: -1}
	snap := c.snap.Load()
	if snap == nil {
		d.ErrorCode = ruleset.ErrorGeneral
		d.ErrorMessage = "no rule set loaded yet"
		return d
	}
	d.Version = snap.doc.Version
	typ, ok := snap.types[key]
	if !ok {
		d.ErrorCode = ruleset.ErrorFlagNotFound
		d.ErrorMessage = fmt.Sprintf("flag %q not found in rule set %s", key, snap.doc.Version)
		return d
	}
	if want != "" && typ != want {
		d.ErrorCode = ruleset.ErrorTypeMismatch
		d.ErrorMessage = fmt.Sprintf("flag %q is of type %s, not %s", key, typ, want)
		return d
	}
	r := snap.rs.Evaluate(key, ctx)
	d.Rule, d.RuleName, d.Metadata = r.Rule, r.RuleName, r.Metadata
	if r.Reason == ruleset.ReasonError {
		d.ErrorCode = r.ErrorCode
		d.ErrorMessage = fmt.Sprintf("evaluating flag %q: %s", key, r.ErrorCode)
		return d
	}
	v, ok := conv(r.Value)
	if !ok {
		d.ErrorCode = ruleset.ErrorTypeMismatch
		d.ErrorMessage = fmt.Sprintf("flag %q served variant %q whose value %v does not fit %T", key, r.Variant, r.Value, def)
		return d
	}
	d.Value, d.Variant, d.Reason = v, r.Variant, r.Reason
	return d
}
