package store

import (
	"fmt"
	"strings"
)

// TriggerAction is what a trigger does to its flag when its URL is called.
type TriggerAction int

// Trigger actions.
const (
	TriggerOff   TriggerAction = iota + 1 // override the flag to its off variant
	TriggerServe                          // override the flag to Trigger.Variant
	TriggerClear                          // remove the flag's override
)

// String returns the action as flagpole.yaml spells it, without the variant
// of serve.
func (a TriggerAction) String() string {
	switch a {
	case TriggerOff:
		return "off"
	case TriggerServe:
		return "serve"
	case TriggerClear:
		return "clear"
	}
	return fmt.Sprintf("TriggerAction(%d)", int(a))
}

// MarshalText encodes a as its String.
func (a TriggerAction) MarshalText() ([]byte, error) {
	if a < TriggerOff || a > TriggerClear {
		return nil, fmt.Errorf("store: invalid trigger action %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes what MarshalText encodes.
func (a *TriggerAction) UnmarshalText(b []byte) error {
	for _, v := range []TriggerAction{TriggerOff, TriggerServe, TriggerClear} {
		if string(b) == v.String() {
			*a = v
			return nil
		}
	}
	return fmt.Errorf("store: unknown trigger action %q", b)
}

// ParseTriggerAction parses an action as flagpole.yaml writes it: "off",
// "clear" or "serve <variant>". variant is set for serve only. The error
// says what is allowed; it never checks that the variant exists.
func ParseTriggerAction(s string) (a TriggerAction, variant string, err error) {
	switch verb, rest, _ := strings.Cut(s, " "); {
	case s == "off":
		return TriggerOff, "", nil
	case s == "clear":
		return TriggerClear, "", nil
	case verb == "serve" && rest != "" && !strings.ContainsAny(rest, " \t"):
		return TriggerServe, rest, nil
	}
	return 0, "", fmt.Errorf("action %q: use off, clear or serve <variant>", s)
}

// Trigger is an inbound alert URL as declared in flagpole.yaml: calling
// POST /v1/triggers/<token> applies Action to Flag in Environment. Only the
// SHA-256 of the token is kept.
type Trigger struct {
	Name        string        `json:"name"`
	Flag        string        `json:"flag"`
	Environment string        `json:"environment"`
	Action      TriggerAction `json:"action"`
	Variant     string        `json:"variant,omitempty"` // the variant of TriggerServe
	SHA256      string        `json:"sha256"`            // 64 lowercase hex digits
}
