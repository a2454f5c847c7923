package sdk

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

func TestChangedFlags(t *testing.T) {
	cond := func(attr, value string) ruleset.Condition {
		return ruleset.Condition{Attribute: attr, Type: ruleset.AttrString, Operator: ruleset.OpEq, Values: []json.RawMessage{json.RawMessage(`"` + value + `"`)}}
	}
	base := func() *ruleset.Document {
		d := doc("v1", boolFlag("a", false), boolFlag("b", false), boolFlag("c", false), stringFlag("d", "x"))
		d.Audiences = map[string]*ruleset.Audience{
			"west":     {Key: "west", Conditions: []ruleset.Condition{cond("state", "CA")}},
			"beta":     {Key: "beta", Conditions: []ruleset.Condition{{Audience: "west"}}},
			"unused":   {Key: "unused", Conditions: []ruleset.Condition{cond("state", "NY")}},
			"students": {Key: "students", Conditions: []ruleset.Condition{cond("plan", "edu")}},
		}
		d.Flags.Get("b").Rules = []ruleset.Rule{{Audiences: []string{"beta"}, Serve: "on"}}
		d.Flags.Get("c").Rules = []ruleset.Rule{{Conditions: []ruleset.Condition{{Audience: "students"}}, Serve: "on"}}
		return d
	}
	tests := []struct {
		name string
		edit func(d *ruleset.Document)
		want []string
	}{
		{"nothing", func(*ruleset.Document) {}, []string{}},
		{"flag edited", func(d *ruleset.Document) { d.Flags = d.Flags.With(map[string]*ruleset.Flag{"a": boolFlag("a", true)}) }, []string{"a"}},
		{"flag added and removed", func(d *ruleset.Document) {
			d.Flags = d.Flags.With(map[string]*ruleset.Flag{"e": boolFlag("e", true), "d": nil})
		}, []string{"d", "e"}},
		{"audience included by another", func(d *ruleset.Document) {
			d.Audiences["west"] = &ruleset.Audience{Key: "west", Conditions: []ruleset.Condition{cond("state", "WA")}}
		}, []string{"b"}},
		{"audience in a condition", func(d *ruleset.Document) {
			d.Audiences["students"] = &ruleset.Audience{Key: "students", Conditions: []ruleset.Condition{cond("plan", "k12")}}
		}, []string{"c"}},
		{"unused audience", func(d *ruleset.Document) { delete(d.Audiences, "unused") }, []string{}},
		{"override set", func(d *ruleset.Document) {
			d.Overrides = map[string]*ruleset.Override{"d": {Flag: "d", Environment: "production", Serve: "only", At: time.Unix(0, 0).UTC()}}
		}, []string{"d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := base()
			cur := base()
			cur.Version = "v2"
			tt.edit(cur)
			prev, next := &snapshot{doc: old}, &snapshot{doc: cur}
			got := changedFlags(prev, next, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("full compare: %v, want %v", got, tt.want)
			}
			viaPatch := changedFlags(prev, next, ruleset.Diff(old, cur))
			if !slices.Equal(viaPatch, tt.want) {
				t.Errorf("patch compare: %v, want %v", viaPatch, tt.want)
			}
		})
	}
	if got := changedFlags(nil, &snapshot{doc: base()}, nil); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("first rule set: %v, want every flag", got)
	}
}
