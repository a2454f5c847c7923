package redisstore_test

import (
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store/redisstore"
	"github.com/flagpole/flagpole/store/storetest"
)

// The override layer behaves as the in-memory store's on every topology.
func TestRedisLayer(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		storetest.Layer(t, newRedis(t, redistest.Start(t), redisstore.Options{}))
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		// A prefix without a hash tag: the layer scripts must still run
		// within one slot.
		storetest.Layer(t, newRedisURL(t, c.URL(), redisstore.Options{Prefix: "app:"}))
	})
	t.Run("sentinel", func(t *testing.T) {
		s := redistest.StartSentinel(t)
		storetest.Layer(t, newRedisURL(t, s.URL(), redisstore.Options{}))
	})
}
