package ruleset

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseContext(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Context
		err  string
	}{
		{"all types", `{"key":"u1","age":42.5,"student":true,"gone":null}`,
			Context{"key": "u1", "age": 42.5, "student": true, "gone": nil}, ""},
		{"empty", `{}`, Context{}, ""},
		{"whitespace", " \n{ \"a\" : 1 }\n ", Context{"a": 1.0}, ""},
		{"array value", `{"key":"u","tags":["a"]}`, nil, "context.tags: must be a string, number, boolean or null"},
		{"object value", `{"org":{"id":1}}`, nil, "context.org: must be a string, number, boolean or null"},
		{"not an object", `["a"]`, nil, "context: must be a JSON object"},
		{"null", `null`, nil, "context: must be a JSON object"},
		{"string", `"x"`, nil, "context: must be a JSON object"},
		{"empty input", ``, nil, "context: unexpected EOF"},
		{"truncated", `{"a":1`, nil, "context: unexpected EOF"},
		{"trailing data", `{"a":1} {"b":2}`, nil, "context: unexpected data after the JSON object"},
		{"trailing garbage", `{"a":1}x`, nil, "context: unexpected data after the JSON object"},
		{"duplicate", `{"a":1,"a":2}`, nil, "context.a: duplicate attribute"},
		{"number out of range", `{"a":1e999}`, nil, "context.a: number 1e999 out of range"},
		{"syntax", `{"a":tru}`, nil, "context.a: invalid character"},
		{"missing colon", `{"a" 1}`, nil, "context.a: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseContext([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestParseContextLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < MaxContextAttributes; i++ {
		fmt.Fprintf(&b, `"a%d":%d,`, i, i)
	}
	full := strings.TrimSuffix(b.String(), ",") + "}"
	if ctx, err := ParseContext([]byte(full)); err != nil || len(ctx) != MaxContextAttributes {
		t.Errorf("%d attributes: %d, %v", MaxContextAttributes, len(ctx), err)
	}
	over := strings.TrimSuffix(full, "}") + `,"one_more":1}`
	if _, err := ParseContext([]byte(over)); !errors.Is(err, ErrContextTooLarge) {
		t.Errorf("%d attributes: %v, want ErrContextTooLarge", MaxContextAttributes+1, err)
	}
	big := `{"a":"` + strings.Repeat("x", MaxContextBytes) + `"}`
	if _, err := ParseContext([]byte(big)); !errors.Is(err, ErrContextTooLarge) {
		t.Errorf("%d bytes: %v, want ErrContextTooLarge", len(big), err)
	}
	// MaxContextBytes of short strings fit.
	b.Reset()
	b.WriteString("{")
	for i := 0; b.Len() < MaxContextBytes-MaxContextString-64; i++ {
		fmt.Fprintf(&b, `"s%d":"%s",`, i, strings.Repeat("x", MaxContextString-16))
	}
	fits := strings.TrimSuffix(b.String(), ",") + "}"
	if _, err := ParseContext([]byte(fits)); err != nil {
		t.Errorf("%d bytes: %v", len(fits), err)
	}
}

func TestContextStringLimit(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		ok         bool
	}{
		{"at the limit", `{"ua":"` + strings.Repeat("x", MaxContextString) + `"}`, true},
		{"over", `{"ua":"` + strings.Repeat("x", MaxContextString+1) + `"}`, false},
		// The token path (input that is not valid JSON as a whole) too.
		{"over, then invalid", `{"ua":"` + strings.Repeat("x", MaxContextString+1) + `", }`, false},
		{"escaped over", `{"ua":"` + strings.Repeat(`é`, MaxContextString/2+1) + `"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseContext([]byte(tc.json))
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "context.ua") || !strings.Contains(err.Error(), "2048") || errors.Is(err, ErrContextTooLarge)) {
				t.Errorf("err = %v: want a 400 naming context.ua and the limit", err)
			}
		})
	}
}
