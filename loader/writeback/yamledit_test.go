package writeback

import (
	"strings"
	"testing"
)

// TestDisableIn edits flag files of every shape and compares the result
// byte for byte: only the enabled field (or the lines that hold it) may
// change.
func TestDisableIn(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{name: "no environments, comments kept",
			in: "# checkout flag\nkey: checkout-v2   # the key\nvariants: {on: true, off: false}\nrules:\n    - serve: on  # everyone\n",
			want: "# checkout flag\nkey: checkout-v2   # the key\nvariants: {on: true, off: false}\nrules:\n    - serve: on  # everyone\n" +
				"environments:\n  production: {enabled: false}\n"},
		{name: "no environments, no final newline, indent of the file",
			in:   "key: checkout-v2\nbreaker:\n    error_rate: 5",
			want: "key: checkout-v2\nbreaker:\n    error_rate: 5\nenvironments:\n    production: {enabled: false}\n"},
		{name: "block environments without the environment",
			in:   "key: checkout-v2\nenvironments:\n  # staging first\n  staging:\n    enabled: true\n",
			want: "key: checkout-v2\nenvironments:\n  # staging first\n  production: {enabled: false}\n  staging:\n    enabled: true\n"},
		{name: "block overlay without enabled",
			in:   "key: checkout-v2\nenvironments:\n  production:\n    default: off   # safe\n",
			want: "key: checkout-v2\nenvironments:\n  production:\n    enabled: false\n    default: off   # safe\n"},
		{name: "block overlay with enabled: true",
			in:   "key: checkout-v2\nenvironments:\n  production:\n    enabled: true # launched\n",
			want: "key: checkout-v2\nenvironments:\n  production:\n    enabled: false # launched\n"},
		{name: "already disabled",
			in:   "key: checkout-v2\nenvironments:\n  production: {enabled: false}\n",
			want: "key: checkout-v2\nenvironments:\n  production: {enabled: false}\n"},
		{name: "flow overlay",
			in:   "key: checkout-v2\nenvironments:\n  production: {rules: [{serve: on}]}  # all in\n",
			want: "key: checkout-v2\nenvironments:\n  production: {enabled: false, rules: [{serve: on}]}  # all in\n"},
		{name: "flow overlay with enabled",
			in:   "key: checkout-v2\nenvironments:\n  production: {default: on, enabled: true}\n",
			want: "key: checkout-v2\nenvironments:\n  production: {default: on, enabled: false}\n"},
		{name: "flow environments",
			in:   "key: checkout-v2\nenvironments: {staging: {enabled: true}}\n",
			want: "key: checkout-v2\nenvironments: {production: {enabled: false}, staging: {enabled: true}}\n"},
		{name: "empty flow environments",
			in:   "key: checkout-v2\nenvironments: {}\n",
			want: "key: checkout-v2\nenvironments: {production: {enabled: false}}\n"},
		{name: "CRLF line endings",
			in:   "key: checkout-v2\r\nenvironments:\r\n  staging: {enabled: true}\r\n",
			want: "key: checkout-v2\r\nenvironments:\r\n  production: {enabled: false}\r\n  staging: {enabled: true}\r\n"},
		{name: "unicode before the value",
			in:   "key: checkout-v2\nenvironments:\n  production: {description: \"café ☕\", enabled: true}\n",
			want: "key: checkout-v2\nenvironments:\n  production: {description: \"café ☕\", enabled: false}\n"},
		{name: "null overlay is re-encoded",
			in:   "key: checkout-v2\nenvironments:\n  production:\n",
			want: "key: checkout-v2\nenvironments:\n  production: {enabled: false}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := disableIn([]byte(tc.in), "production")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDisableInRefuses(t *testing.T) {
	for _, in := range []string{"- a list\n", "key: [unclosed\n", ""} {
		if _, err := disableIn([]byte(in), "production"); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// An environment name YAML would read as another type is quoted.
	got, err := disableIn([]byte("key: x\n"), "true")
	if err != nil || !strings.Contains(string(got), `"true": {enabled: false}`) {
		t.Errorf("got %q, %v", got, err)
	}
}

// FuzzDisableIn: whatever the file, the edit either fails or reads back
// with the environment disabled and nothing else changed (disableIn checks
// the latter itself; this checks it never panics and never lies).
func FuzzDisableIn(f *testing.F) {
	for _, s := range []string{"key: x\n", "key: x\nenvironments:\n  production:\n    enabled: true\n",
		"key: x\nenvironments: {staging: {}}\n", "{key: x}\n", "key: x # c\r\nenvironments:\r\n  a: {b: c}\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := disableIn(data, "production")
		if err != nil {
			return
		}
		root, err := parseRoot(out)
		if err != nil {
			t.Fatalf("edited file does not parse: %v\n%s", err, out)
		}
		var v struct {
			Environments map[string]struct {
				Enabled *bool `yaml:"enabled"`
			} `yaml:"environments"`
		}
		if err := root.Decode(&v); err != nil {
			return // another field has a shape this view does not fit
		}
		if e := v.Environments["production"].Enabled; e == nil || *e {
			t.Fatalf("not disabled:\n%s", out)
		}
	})
}
