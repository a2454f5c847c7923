package store_test

import (
	"testing"

	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/storetest"
)

func TestMemoryMetrics(t *testing.T) {
	m := store.NewMemory()
	storetest.Metrics(t, func(*testing.T) store.Metrics { return m })
}
