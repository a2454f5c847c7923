package stale

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// The fields of a flag and of a rule that the constant analysis models. A
// flag that has any other field (a prerequisite, a schedule, a ramp) is not
// judged: it might serve something else at some time or for some context.
var (
	modeledFlagFields = []string{"key", "name", "description", "owner", "client", "type", "variants",
		"enabled", "off", "default", "rules", "breaker", "expires", "kind", "metadata"}
	modeledRuleFields = []string{"name", "users", "audiences", "match", "conditions", "serve", "rollout", "by"}
)

// constant reports whether flag key serves one variant, with one value, to
// every context in every environment, and explains why.
func constant(repo *loader.Repo, key string) (Finding, bool) {
	var variant string
	var value json.RawMessage
	var why []string
	for _, env := range repo.Settings.Environments {
		doc := repo.Documents[env]
		fl, ok := doc.Flags.Lookup(key)
		if !ok || doc.Overrides[key] != nil || !modeled(fl) {
			return Finding{}, false
		}
		v, how, ok := served(fl)
		if !ok {
			return Finding{}, false
		}
		val := variantValue(fl, v)
		if variant == "" {
			variant, value = v, val
		} else if v != variant || compact(val) != compact(value) {
			return Finding{}, false
		}
		why = append(why, env+": "+how)
	}
	if variant == "" {
		return Finding{}, false
	}
	var decoded any
	_ = json.Unmarshal(value, &decoded)
	fl := anyFlag(repo, key)
	return Finding{Flag: key, Kind: fl.Kind, Category: Constant, Variant: variant, Value: decoded,
		Why: fmt.Sprintf("everyone gets %q (%s) in every environment (%s): the flag can go from the code, then from the repository",
			variant, compact(value), strings.Join(why, "; "))}, true
}

// served returns the one variant fl serves to every context and how, or
// false when it may serve more than one.
func served(fl *ruleset.Flag) (variant, how string, ok bool) {
	if !fl.Enabled {
		return fl.Off, fmt.Sprintf("disabled, so %q", fl.Off), true
	}
	reach := map[string]bool{}
	for i, r := range fl.Rules {
		switch {
		case r.Serve != "":
			reach[r.Serve] = true
		default:
			for _, w := range r.Rollout {
				if w.Weight > 0 {
					reach[w.Variant] = true
				}
			}
		}
		if r.Serve != "" && len(r.Users) == 0 && len(r.Audiences) == 0 && len(r.Conditions) == 0 {
			// Matches everyone: later rules and the default are never reached.
			if len(reach) != 1 {
				return "", "", false
			}
			if i == 0 {
				return r.Serve, fmt.Sprintf("its first rule serves %q to everyone", r.Serve), true
			}
			return r.Serve, fmt.Sprintf("rules 1 to %d all serve %q", i+1, r.Serve), true
		}
	}
	reach[fl.Default] = true
	if len(reach) != 1 {
		return "", "", false
	}
	if len(fl.Rules) == 0 {
		return fl.Default, fmt.Sprintf("no rules, default %q", fl.Default), true
	}
	return fl.Default, fmt.Sprintf("every rule and the default serve %q", fl.Default), true
}

// modeled reports whether every field of fl and its rules is one the
// analysis understands, judging by the flag's wire form.
func modeled(fl *ruleset.Flag) bool {
	b, err := json.Marshal(fl)
	if err != nil {
		return false
	}
	var m struct {
		Rules []map[string]json.RawMessage `json:"rules"`
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil || json.Unmarshal(b, &m) != nil {
		return false
	}
	for f := range fields {
		if !slices.Contains(modeledFlagFields, f) {
			return false
		}
	}
	for _, r := range m.Rules {
		for f := range r {
			if !slices.Contains(modeledRuleFields, f) {
				return false
			}
		}
	}
	return true
}

func variantValue(fl *ruleset.Flag, name string) json.RawMessage {
	for _, v := range fl.Variants {
		if v.Name == name {
			return v.Value
		}
	}
	return nil
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
