package ruleset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of ParseContext.
const (
	// MaxContextBytes is the largest JSON context ParseContext accepts.
	MaxContextBytes = 64 << 10
	// MaxContextAttributes is the most attributes a context may have.
	MaxContextAttributes = 256
)

// ErrContextTooLarge is returned (wrapped) by ParseContext for input over
// MaxContextBytes or with more than MaxContextAttributes attributes.
var ErrContextTooLarge = errors.New("context too large")

// ParseContext decodes a JSON evaluation context: one object whose values
// are strings, numbers (decoded as float64), booleans or null. An array or
// object value is an error naming the attribute ("context.tags: must be a
// string, number, boolean or null"), as are duplicate attributes, more
// than MaxContextAttributes attributes, input over MaxContextBytes and
// anything after the object.
func ParseContext(data []byte) (Context, error) {
	if len(data) > MaxContextBytes {
		return nil, fmt.Errorf("context: %d bytes: %w (limit %d bytes)", len(data), ErrContextTooLarge, MaxContextBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("context: %w", jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("context: must be a JSON object")
	}
	ctx := make(Context)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("context: %w", jsonErr(err))
		}
		name, _ := tok.(string) // object keys are always strings
		if _, dup := ctx[name]; dup {
			return nil, fmt.Errorf("context.%s: duplicate attribute", name)
		}
		if len(ctx) == MaxContextAttributes {
			return nil, fmt.Errorf("context: more than %d attributes: %w", MaxContextAttributes, ErrContextTooLarge)
		}
		v, err := contextValue(dec, name)
		if err != nil {
			return nil, err
		}
		ctx[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("context: %w", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("context: unexpected data after the JSON object")
	}
	return ctx, nil
}

// contextValue reads one attribute value.
func contextValue(dec *json.Decoder, name string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("context.%s: %w", name, jsonErr(err))
	}
	switch x := tok.(type) {
	case json.Delim:
		return nil, fmt.Errorf("context.%s: must be a string, number, boolean or null", name)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("context.%s: number %s out of range", name, clip([]byte(x)))
		}
		return f, nil
	default:
		return x, nil // string, bool or nil
	}
}

// jsonErr turns a bare io.EOF from a truncated document into a readable
// error.
func jsonErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
