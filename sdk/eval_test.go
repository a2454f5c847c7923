package sdk

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

func TestTypedEvaluation(t *testing.T) {
	c := newOffline(t, "testdata/snapshot.json")
	audrey, other := Context{"key": "audrey"}, Context{"key": "someone"}
	tests := []struct {
		name    string
		eval    func() any
		want    any
		reason  ruleset.Reason
		code    ruleset.ErrorCode
		variant string
	}{
		{"bool targeted", func() any { return c.BoolDetail("checkout-v2", audrey, false) }, true, ruleset.ReasonTargetingMatch, 0, "on"},
		{"bool default rule", func() any { return c.BoolDetail("checkout-v2", other, true) }, false, ruleset.ReasonDefault, 0, "off"},
		{"string", func() any { return c.StringDetail("banner-text", other, "x") }, "20% off today", ruleset.ReasonStatic, 0, "sale"},
		{"int disabled", func() any { return c.IntDetail("max-items", other, 3) }, int64(10), ruleset.ReasonDisabled, 0, "few"},
		{"float", func() any { return c.FloatDetail("discount-rate", other, 0) }, 0.2, ruleset.ReasonStatic, 0, "high"},
		{"int of a fraction", func() any { return c.IntDetail("discount-rate", other, 7) }, int64(7), ruleset.ReasonError, ruleset.ErrorTypeMismatch, ""},
		{"json", func() any { return c.JSONDetail("theme", other, nil) }, map[string]any{"color": "black", "contrast": 2.0}, ruleset.ReasonStatic, 0, "dark"},
		{"bool of a string flag", func() any { return c.BoolDetail("banner-text", other, true) }, true, ruleset.ReasonError, ruleset.ErrorTypeMismatch, ""},
		{"string of a bool flag", func() any { return c.StringDetail("checkout-v2", other, "d") }, "d", ruleset.ReasonError, ruleset.ErrorTypeMismatch, ""},
		{"float of a json flag", func() any { return c.FloatDetail("theme", other, 1.5) }, 1.5, ruleset.ReasonError, ruleset.ErrorTypeMismatch, ""},
		{"json of a number flag", func() any { return c.JSONDetail("max-items", other, "d") }, "d", ruleset.ReasonError, ruleset.ErrorTypeMismatch, ""},
		{"unknown flag", func() any { return c.BoolDetail("nope", other, true) }, true, ruleset.ReasonError, ruleset.ErrorFlagNotFound, ""},
		{"untyped", func() any { return c.Evaluate("banner-text", other) }, "20% off today", ruleset.ReasonStatic, 0, "sale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.ValueOf(tt.eval())
			get := func(f string) any { return v.FieldByName(f).Interface() }
			if !reflect.DeepEqual(get("Value"), tt.want) {
				t.Errorf("Value = %#v, want %#v", get("Value"), tt.want)
			}
			if get("Reason") != tt.reason || get("ErrorCode") != tt.code || get("Variant") != tt.variant {
				t.Errorf("reason/code/variant = %v/%v/%q, want %v/%v/%q",
					get("Reason"), get("ErrorCode"), get("Variant"), tt.reason, tt.code, tt.variant)
			}
			if (tt.code != 0) != (get("ErrorMessage") != "") {
				t.Errorf("ErrorMessage = %q with code %v", get("ErrorMessage"), tt.code)
			}
			if get("Version") != "snap-1" {
				t.Errorf("Version = %q, want snap-1", get("Version"))
			}
		})
	}
	if !c.Bool("checkout-v2", audrey, false) || c.String("banner-text", other, "") != "20% off today" ||
		c.Int("max-items", other, 0) != 10 || c.Float("discount-rate", other, 0) != 0.2 || c.JSON("theme", other, nil) == nil {
		t.Error("short forms disagree with the detailed ones")
	}
}

func TestOfflineWithoutBootstrapServesDefaults(t *testing.T) {
	c, err := New(context.Background(), Options{Offline: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	if c.State() != StateReady {
		t.Errorf("State = %s, want READY", c.State())
	}
	d := c.BoolDetail("anything", nil, true)
	if !d.Value || d.ErrorCode != ruleset.ErrorFlagNotFound {
		t.Errorf("detail = %+v, want the default with FLAG_NOT_FOUND", d)
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no URL", Options{Key: "k"}, "URL is required"},
		{"relative URL", Options{URL: "localhost:8080", Key: "k"}, "absolute http or https URL"},
		{"no key", Options{URL: "http://127.0.0.1:1"}, "Key is required"},
		{"missing bootstrap", Options{Offline: true, Bootstrap: "testdata/nope.json"}, "testdata/nope.json"},
		{"not a document", Options{Offline: true, Bootstrap: "testdata/not-a-document.json"}, "not a rule-set document"},
		{"wrong environment", Options{Offline: true, Bootstrap: "testdata/snapshot.json", Environment: "staging"}, `not "staging"`},
		{"client timeout", Options{URL: "http://127.0.0.1:1", Key: "k", HTTPClient: &http.Client{Timeout: time.Second}}, "HTTPClient.Timeout is 1s"},
		{"password hidden", Options{URL: "ftp://u:secret@host", Key: "k"}, "u:xxxxx@host"},
		{"token hidden", Options{URL: "https://secret-token@", Key: "k"}, "https://xxxxx@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(context.Background(), tt.opts)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q, want it to contain %q and no secret", err, tt.want)
			}
		})
	}
}

func BenchmarkEvaluation(b *testing.B) {
	c, err := New(context.Background(), Options{Offline: true, Bootstrap: "testdata/snapshot.json"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := Context{"key": "user-1"}
	b.Run("Bool/targeting", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Bool("checkout-v2", ctx, false)
		}
	})
	b.Run("String/default", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.String("banner-text", ctx, "")
		}
	})
	b.Run("Bool/not-found", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Bool("nope", ctx, false)
		}
	})
	b.Run("Bool/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Bool("checkout-v2", ctx, false)
			}
		})
	})
}
