package redisstore_test

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/store/redisstore"
	"github.com/flagpole/flagpole/internal/testutil/redistest"
)

func TestClusterStore(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	cases := []struct{ name, prefix, want string }{
		{"default prefix", "", "{flagpole}:"},
		{"plain prefix gets a hash tag", "app:", "{app}:"},
		{"hash-tagged prefix kept", "x:{tenant7}:", "x:{tenant7}:"},
		{"empty braces are no hash tag", "{}:", "{{}}:"},
		{"unclosed brace is no hash tag", "a{b:", "{a{b}:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := newRedisURL(t, c.URL(), redisstore.Options{Prefix: tc.prefix})
			sub := newRedisURL(t, c.URL(), redisstore.Options{Prefix: tc.prefix, HealthInterval: 200 * time.Millisecond})
			if pub.Prefix() != tc.want {
				t.Fatalf("Prefix = %q, want %q", pub.Prefix(), tc.want)
			}
			ch, err := sub.Watch(t.Context())
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			checkBasics(t, pub, sub, ch)
			checkOneSlot(t, c, pub.Prefix())
		})
	}
}

// checkOneSlot asks the cluster for the hash slot of every key the store
// uses under prefix and fails unless they share one: the publish script
// touches two keys, which Redis Cluster allows only within one slot.
func checkOneSlot(t *testing.T, c *redistest.Cluster, prefix string) {
	t.Helper()
	keys := []string{"snap:production", "snap:staging", "envs", "status", "lock:syncer", "lock:breaker", "changes"}
	var first int64 = -1
	for _, k := range keys {
		v, err := c.Do(t.Context(), 0, "CLUSTER", "KEYSLOT", prefix+k)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", prefix+k, err)
		}
		slot, ok := v.(int64)
		if !ok {
			t.Fatalf("CLUSTER KEYSLOT %s = %v (%T), want an integer", prefix+k, v, v)
		}
		if first < 0 {
			first = slot
		}
		if slot != first {
			t.Errorf("key %s is in slot %d, %s in %d: keys must share a slot", prefix+k, slot, prefix+keys[0], first)
		}
	}
}
