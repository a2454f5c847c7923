package keyring

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/store"
)

func hashOf(key string) string {
	h := Sum(key)
	return hex.EncodeToString(h[:])
}

func TestNewAndMatch(t *testing.T) {
	keys := []store.Key{
		{Name: "svc", Environment: "production", Kind: store.KeyServer, SHA256: hashOf("server-key")},
		{Name: "web", Environment: "production", Kind: store.KeyClient, SHA256: strings.ToUpper(hashOf("client-key"))},
		{Name: "staging", Environment: "staging", Kind: store.KeyServer, SHA256: hashOf("staging-key")},
		{Name: "everywhere", Kind: store.KeyServer, SHA256: hashOf("any-env")},
	}
	r, err := New(keys, "production", store.KeyServer, store.KeyClient)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 {
		t.Errorf("Len = %d, want 3 (production and environment-less keys)", r.Len())
	}
	tests := []struct {
		key  string
		ok   bool
		kind store.KeyKind
		name string
	}{
		{"server-key", true, store.KeyServer, "svc"},
		{"client-key", true, store.KeyClient, "web"},
		{"any-env", true, store.KeyServer, "everywhere"},
		{"staging-key", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			e, ok := r.Match(Sum(tt.key))
			if ok != tt.ok || e.Kind != tt.kind || e.Name != tt.name {
				t.Errorf("Match = %+v, %v; want kind %q name %q, %v", e, ok, tt.kind, tt.name, tt.ok)
			}
			if ok && !r.Allows(e.Hash, e.Kind) {
				t.Error("Allows refuses a matched key")
			}
		})
	}
	if r.Allows(Sum("server-key"), store.KeyClient) {
		t.Error("Allows accepts a key with another kind")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		key  store.Key
		want string
	}{
		{"short hash", store.Key{Name: "a", Kind: store.KeyServer, SHA256: "abcd"}, "keys[0] (a): sha256 is not 64 hex digits"},
		{"not hex", store.Key{Name: "b", Kind: store.KeyServer, SHA256: strings.Repeat("zz", 32)}, "keys[0] (b): sha256 is not 64 hex digits"},
		{"unknown kind", store.Key{Name: "c", Kind: "admin", SHA256: hashOf("x")}, `keys[0] (c): unknown kind "admin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]store.Key{tt.key}, "production", store.KeyServer, store.KeyClient)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// A kind the caller knows is accepted: the admin API passes its own.
	if _, err := New([]store.Key{{Name: "c", Kind: "admin", SHA256: hashOf("x")}}, "production", "admin"); err != nil {
		t.Errorf("known kind refused: %v", err)
	}
}

func TestEqual(t *testing.T) {
	a := []store.Key{{Name: "a", Kind: store.KeyServer, SHA256: hashOf("1")}, {Name: "b", Kind: store.KeyClient, SHA256: hashOf("2")}}
	b := []store.Key{a[1], a[0]}
	c := []store.Key{a[0], {Name: "b", Kind: store.KeyServer, SHA256: hashOf("2")}}
	ra, _ := New(a, "p", store.KeyServer, store.KeyClient)
	rb, _ := New(b, "p", store.KeyServer, store.KeyClient)
	rc, _ := New(c, "p", store.KeyServer, store.KeyClient)
	if !ra.Equal(rb) {
		t.Error("same keys in another order are not Equal")
	}
	if ra.Equal(rc) {
		t.Error("a key whose kind changed is Equal")
	}
}
