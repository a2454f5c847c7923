package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store/redisstore"
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
			everyNode := subscribeEveryNode(t, c, pub)
			checkBasics(t, pub, sub, ch)
			everyNode("staging v1", "production v1", "production v2")
			checkOneSlot(t, c, pub.Prefix())
		})
	}
	t.Run("deferred snapshot", func(t *testing.T) {
		pub := newRedisURL(t, c.URL(), redisstore.Options{Prefix: "deferred:", SnapshotDelay: time.Hour})
		cold := newRedisURL(t, c.URL(), redisstore.Options{Prefix: "deferred:"})
		checkDeferred(t, pub, cold)
	})
}

// subscribeEveryNode subscribes to the changes channel on each node
// directly, as watchers connected to any node are. The returned function
// publishes one more change and checks that every node delivered all the
// changes since, in order: PUBLISH in a cluster is broadcast over the
// cluster bus.
func subscribeEveryNode(t *testing.T, c *redistest.Cluster, pub *redisstore.Redis) (check func(before ...string)) {
	t.Helper()
	channel := pub.Prefix() + "changes"
	var subs []*redis.PubSub
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr()})
		t.Cleanup(func() { cl.Close() })
		ps := cl.Subscribe(t.Context(), channel)
		t.Cleanup(func() { ps.Close() })
		if _, err := ps.Receive(t.Context()); err != nil {
			t.Fatalf("node %s: subscribe %s: %v", n.Addr(), channel, err)
		}
		subs = append(subs, ps)
	}
	return func(before ...string) {
		t.Helper()
		if err := pub.Publish(t.Context(), snap("production", "v9")); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		want := append(before, "production v9")
		for i, ps := range subs {
			for _, w := range want {
				msg, err := ps.ReceiveTimeout(t.Context(), eventually)
				m, ok := msg.(*redis.Message)
				env, version, _ := strings.Cut(w, " ")
				if err != nil || !ok || !strings.HasPrefix(m.Payload, `{"env":"`+env+`","version":"`+version+`"`) {
					t.Fatalf("node %s: received %v, %v; want the change %s", c.Nodes[i].Addr(), msg, err, w)
				}
			}
		}
	}
}

// checkOneSlot asks the cluster for the hash slot of every key the store
// uses under prefix and fails unless they share one: the publish script
// touches two keys, which Redis Cluster allows only within one slot.
func checkOneSlot(t *testing.T, c *redistest.Cluster, prefix string) {
	t.Helper()
	keys := []string{"snap:production", "snap:staging", "patches:production", "envs", "status", "lock:syncer", "lock:breaker", "changes"}
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
