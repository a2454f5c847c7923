package ruleset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of ParseContext.
const (
	// MaxContextBytes is the largest JSON context ParseContext accepts.
	MaxContextBytes = 64 << 10
	// MaxContextAttributes is the most attributes a context may have.
	MaxContextAttributes = 256
	// MaxContextString is the longest string value, in bytes, a context
	// attribute may have. With MaxRegexInstructions it bounds the cost of
	// one matches condition.
	MaxContextString = 2048
)

// ErrContextTooLarge is returned (wrapped) by ParseContext for input over
// MaxContextBytes or with more than MaxContextAttributes attributes.
var ErrContextTooLarge = errors.New("context too large")

// ParseContext decodes a JSON evaluation context: one object whose values
// are strings, numbers (decoded as float64), booleans or null. An array or
// object value is an error naming the attribute ("context.tags: must be a
// string, number, boolean or null"), as are duplicate attributes, more
// than MaxContextAttributes attributes, input over MaxContextBytes and
// anything after the object, and a string value longer than
// MaxContextString bytes (a 400 for a remote caller, not a 413: the body
// may be small and the fix is to that attribute).
func ParseContext(data []byte) (Context, error) {
	if len(data) > MaxContextBytes {
		return nil, fmt.Errorf("context: %d bytes: %w (limit %d bytes)", len(data), ErrContextTooLarge, MaxContextBytes)
	}
	if json.Valid(data) {
		return parseValidContext(data)
	}
	return parseContextTokens(data)
}

// parseValidContext decodes a context already known to be one valid JSON
// value, without the per-token allocations of json.Decoder: this runs on
// every remote evaluation. Strings with escapes or non-ASCII bytes go
// through json.Unmarshal so that they decode exactly as encoding/json does.
func parseValidContext(data []byte) (Context, error) {
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return nil, fmt.Errorf("context: must be a JSON object")
	}
	ctx := make(Context)
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		name, next, err := jsonString(data, i)
		if err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
		if _, dup := ctx[name]; dup {
			return nil, fmt.Errorf("context.%s: duplicate attribute", name)
		}
		if len(ctx) == MaxContextAttributes {
			return nil, fmt.Errorf("context: more than %d attributes: %w", MaxContextAttributes, ErrContextTooLarge)
		}
		i = skipSpace(data, skipSpace(data, next)+1) // past the colon
		var v any
		switch c := data[i]; {
		case c == '"':
			v, i, err = jsonString(data, i)
			if err != nil {
				return nil, fmt.Errorf("context.%s: %w", name, err)
			}
		case c == 't':
			v, i = true, i+4
		case c == 'f':
			v, i = false, i+5
		case c == 'n':
			v, i = nil, i+4
		case c == '{' || c == '[':
			return nil, fmt.Errorf("context.%s: must be a string, number, boolean or null", name)
		default:
			end := i
			for end < len(data) && data[end] != ',' && data[end] != '}' && !isSpace(data[end]) {
				end++
			}
			f, err := strconv.ParseFloat(string(data[i:end]), 64)
			if err != nil {
				return nil, fmt.Errorf("context.%s: number %s out of range", name, clip(data[i:end]))
			}
			v, i = f, end
		}
		if str, ok := v.(string); ok && len(str) > MaxContextString {
			return nil, stringTooLong(name, len(str))
		}
		ctx[name] = v
		i = skipSpace(data, i)
	}
	return ctx, nil
}

// jsonString decodes the valid JSON string starting at data[i] and returns
// it with the index just past its closing quote.
func jsonString(data []byte, i int) (string, int, error) {
	simple := true
	end := i + 1
	for ; data[end] != '"'; end++ {
		if c := data[end]; c == '\\' {
			simple = false
			end++ // skip the escaped byte, which may be a quote
		} else if c >= utf8.RuneSelf {
			simple = false
		}
	}
	if simple {
		return string(data[i+1 : end]), end + 1, nil
	}
	var s string
	if err := json.Unmarshal(data[i:end+1], &s); err != nil {
		return "", 0, err
	}
	return s, end + 1, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// parseContextTokens decodes data token by token; ParseContext uses it for
// input that is not valid JSON, to name where it goes wrong.
func parseContextTokens(data []byte) (Context, error) {
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
		if str, ok := v.(string); ok && len(str) > MaxContextString {
			return nil, stringTooLong(name, len(str))
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

// stringTooLong is the error for a string attribute over MaxContextString.
func stringTooLong(name string, n int) error {
	return fmt.Errorf("context.%s: string of %d bytes is over the limit of %d bytes", name, n, MaxContextString)
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
