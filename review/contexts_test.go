package review

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

func TestReadContexts(t *testing.T) {
	t.Parallel()
	ctxs, err := ReadContexts(strings.NewReader("{\"key\":\"a\",\"state\":\"CA\"}\n\n  {\"key\":\"b\"}  \n{\"key\":\"c\"}"), "c.jsonl")
	if err != nil || len(ctxs) != 3 || ctxs[0]["state"] != "CA" || ctxs[2]["key"] != "c" {
		t.Fatalf("%v %v", ctxs, err)
	}
	bad := []struct{ in, want string }{
		{"{\"key\":\"a\"}\n{\"key\":\"b\"}\n{\"key\": [1]}\n", "c.jsonl:3: context.key: must be a string, number, boolean or null"},
		{"{\"key\":\"a\"}\nnot json\n", "c.jsonl:2: "},
		{"{\"key\":\"a\"}\n{\"key\":\"" + strings.Repeat("x", ruleset.MaxContextBytes) + "\"}\n", "c.jsonl:2: line longer than"},
		{"\n\n", "c.jsonl: no contexts"},
		{strings.Repeat("{}\n", MaxSamples+1), "c.jsonl:100001: more than 100000 contexts"},
	}
	for _, b := range bad {
		_, err := ReadContexts(strings.NewReader(b.in), "c.jsonl")
		if err == nil || !strings.HasPrefix(err.Error(), b.want) {
			t.Errorf("error %v, want prefix %q", err, b.want)
		}
	}
}

func TestGenerateContexts(t *testing.T) {
	t.Parallel()
	attrs := []loader.Attribute{{Name: "key", Type: ruleset.AttrString, Builtin: true}, {Name: "now", Type: ruleset.AttrDatetime, Builtin: true},
		{Name: "state", Type: ruleset.AttrString}, {Name: "age", Type: ruleset.AttrNumber}, {Name: "org", Type: ruleset.AttrString},
		{Name: "email", Type: ruleset.AttrString}}
	doc := &ruleset.Document{Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"f": {Rules: []ruleset.Rule{
		{Conditions: []ruleset.Condition{
			{Attribute: "state", Operator: ruleset.OpIn, Values: raws(`"CA"`, `"NV"`)},
			{Attribute: "age", Operator: ruleset.OpGte, Values: raws(`18`)},
			{Attribute: "email", Operator: ruleset.OpEndsWith, Values: raws(`"@x.dev"`)},
		}},
		{Rollout: []ruleset.Weight{{Variant: "on", Weight: 100000}}, By: "org"},
	}}})}
	a := GenerateContexts(attrs, []*ruleset.Document{doc}, 2000)
	b := GenerateContexts(attrs, []*ruleset.Document{doc}, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("generation is not deterministic")
	}
	seen := map[string]map[any]int{}
	for i, c := range a {
		if c["key"] != "user-"+itoa(i) || c["org"] != "org-"+itoa(i) {
			t.Fatalf("context %d: %v", i, c)
		}
		if _, ok := c["now"]; ok {
			t.Fatalf("now generated: %v", c)
		}
		for _, attr := range []string{"state", "age", "email"} {
			if seen[attr] == nil {
				seen[attr] = map[any]int{}
			}
			seen[attr][c[attr]]++ // nil counts the contexts without it
		}
	}
	for attr, want := range map[string][]any{
		"state": {"CA", "NV", "other", nil},
		"age":   {17.0, 18.0, 19.0, 0.0, nil},
		"email": {"sample@x.dev", "other", nil},
	} {
		for _, v := range want {
			if seen[attr][v] < 100 {
				t.Errorf("%s = %v in %d of 2000 contexts", attr, v, seen[attr][v])
			}
		}
		if len(seen[attr]) != len(want) {
			t.Errorf("%s values: %v", attr, seen[attr])
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func raws(vals ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		out[i] = json.RawMessage(v)
	}
	return out
}

// FuzzReadContexts checks that no input makes ReadContexts panic, and that
// what it accepts is within its bounds.
func FuzzReadContexts(f *testing.F) {
	for _, seed := range []string{"{\"key\":\"a\"}\n", "\n\n{}\n{\"a\":1,\"b\":true,\"c\":null}", "{\"key\":", "[1]\n", "{\"k\":\"\\u00e9\"}\r\n{}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctxs, err := ReadContexts(bytes.NewReader(data), "f")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(ctxs) == 0 || len(ctxs) > MaxSamples {
			t.Fatalf("%d contexts", len(ctxs))
		}
	})
}
