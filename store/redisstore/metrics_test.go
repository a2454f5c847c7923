package redisstore_test

import (
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
	"github.com/flagpole/flagpole/store/storetest"
)

// Outcome counts behave as the in-memory store's, on a single node and on
// a Cluster; each bearer of "many bearers" has its own connections.
func TestRedisMetrics(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		srv := redistest.Start(t)
		storetest.Metrics(t, func(t *testing.T) store.Metrics { return newRedis(t, srv, redisstore.Options{}) })
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		storetest.Metrics(t, func(t *testing.T) store.Metrics {
			return newRedisURL(t, c.URL(), redisstore.Options{Prefix: "app:"})
		})
	})
}
