package store_test

import (
	"testing"

	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/storetest"
)

func TestMemoryLayer(t *testing.T) { storetest.Layer(t, store.NewMemory()) }
