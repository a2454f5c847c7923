// Package store forwards the SDK key types to the public package
// github.com/flagpole/flagpole/store for the loader, whose imports are being
// changed on another branch. Nothing else may import it; it goes once the
// loader imports the public package.
package store

import pub "github.com/flagpole/flagpole/store"

// Key is store.Key.
type Key = pub.Key

// KeyKind is store.KeyKind.
type KeyKind = pub.KeyKind
