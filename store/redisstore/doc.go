// Package redisstore is the Redis implementation of store.Store and
// store.Locker, for deployments that split the syncer and the bearers across
// processes. It lives apart from package store so that what imports only the
// store's types (the loader, and through it the SDK) does not link go-redis.
package redisstore

// defaultWatchBuffer is how many changes a watcher may fall behind before it
// is sent a Resync instead of the changes it missed.
const defaultWatchBuffer = 64
