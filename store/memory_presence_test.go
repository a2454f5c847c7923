package store_test

import (
	"testing"

	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/storetest"
)

func TestMemoryPresence(t *testing.T) { storetest.Presence(t, store.NewMemory()) }
