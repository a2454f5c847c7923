package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/flagpole/flagpole/store"
)

// compareKeys reports keys added, revoked, rotated or changed, by name:
// hashes never appear in a report.
func compareKeys(base, head []store.Key) []string {
	var out []string
	old := map[string]store.Key{}
	for _, k := range base {
		old[k.Name] = k
	}
	seen := map[string]bool{}
	for _, k := range head {
		seen[k.Name] = true
		b, ok := old[k.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("key %s added (%s)", k.Name, keyScope(k)))
		default:
			if keyScope(b) != keyScope(k) {
				out = append(out, fmt.Sprintf("key %s: %s → %s", k.Name, keyScope(b), keyScope(k)))
			}
			if b.SHA256 != k.SHA256 {
				out = append(out, fmt.Sprintf("key %s rotated (new secret; the old one stops working)", k.Name))
			}
		}
	}
	for _, k := range base {
		if !seen[k.Name] {
			out = append(out, fmt.Sprintf("key %s revoked (%s)", k.Name, keyScope(k)))
		}
	}
	return out
}

// keyScope says what a key is for, e.g. "server, production" or "admin,
// every environment".
func keyScope(k store.Key) string {
	envs := k.Environment
	if envs == "" {
		envs = "every environment"
		if len(k.Environments) > 0 {
			e := slices.Clone(k.Environments)
			slices.Sort(e)
			envs = strings.Join(e, ", ")
		}
	}
	return fmt.Sprintf("%s, %s", k.Kind, envs)
}

// compareTriggers reports triggers added, revoked, rotated or changed.
func compareTriggers(base, head []store.Trigger) []string {
	var out []string
	old := map[string]store.Trigger{}
	for _, t := range base {
		old[t.Name] = t
	}
	seen := map[string]bool{}
	for _, t := range head {
		seen[t.Name] = true
		b, ok := old[t.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("trigger %s added: %s", t.Name, triggerAction(t)))
		default:
			if triggerAction(b) != triggerAction(t) {
				out = append(out, fmt.Sprintf("trigger %s: %s → %s", t.Name, triggerAction(b), triggerAction(t)))
			}
			if b.SHA256 != t.SHA256 {
				out = append(out, fmt.Sprintf("trigger %s rotated (new URL token; the old URL stops working)", t.Name))
			}
		}
	}
	for _, t := range base {
		if !seen[t.Name] {
			out = append(out, fmt.Sprintf("trigger %s revoked (was: %s)", t.Name, triggerAction(t)))
		}
	}
	return out
}

// triggerAction words what a trigger does, e.g. "off checkout-v2 in
// production".
func triggerAction(t store.Trigger) string {
	action := t.Action.String()
	if t.Action == store.TriggerServe {
		action += " " + t.Variant
	}
	return fmt.Sprintf("%s %s in %s", action, t.Flag, t.Environment)
}
