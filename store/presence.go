package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Presence bounds. A bearer record is small (a few hundred bytes per
// environment); the bounds keep a store's presence data, and what the
// dashboard and /v1/status list, bounded whatever runs against the store.
const (
	// HeartbeatInterval is how often a bearer writes its record.
	HeartbeatInterval = 5 * time.Second
	// BearerTTL is how long a record lives without a heartbeat: a bearer
	// that crashed disappears from the list this long after its last one.
	BearerTTL = 3 * HeartbeatInterval
	// MaxBearers is how many records Bearers returns at most: the most
	// recently seen ones.
	MaxBearers = 1000
	// MaxBearerEnvs is how many environments one record lists at most (the
	// first ones by name); BearerInfo.EnvsOmitted counts the others.
	MaxBearerEnvs = 100
	// MaxBearerField caps the length of each text field of a record (id,
	// address, version, host; environment names and versions).
	MaxBearerField = 256
)

// ErrBearerRecord is wrapped by PutBearer when a record breaks the bounds.
var ErrBearerRecord = errors.New("store: bearer record out of bounds")

// BearerInfo is what a bearer records of itself in the store (see
// Presence): who it is, where it listens and what it serves.
type BearerInfo struct {
	// ID is unique per process: hostname, pid and a random suffix.
	ID string `json:"id"`
	// Host is the hostname part of ID.
	Host string `json:"host,omitempty"`
	// Address is the address the bearer listens on, when it knows it.
	Address string `json:"address,omitempty"`
	// Version is the version of the flagpole binary (or module).
	Version string `json:"version,omitempty"`
	// Started and LastSeen are the bearer's start and last heartbeat.
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"`
	// Envs are what it serves per environment.
	Envs map[string]BearerEnv `json:"environments"`
	// EnvsOmitted counts the environments left out of Envs (MaxBearerEnvs).
	EnvsOmitted int `json:"environments_omitted,omitempty"`
}

// BearerEnv is what one bearer serves for one environment: the rule-set
// version and the SSE streams open on it, by kind.
type BearerEnv struct {
	Version string `json:"version"`
	// Streams are the open SSE streams: SDK (the rule-set stream of server
	// SDKs), Evaluated (client SDKs' evaluated stream) and OFREP (OFREP
	// event streams).
	Streams StreamCounts `json:"streams"`
}

// StreamCounts counts open SSE streams by kind.
type StreamCounts struct {
	SDK       int64 `json:"sdk"`
	Evaluated int64 `json:"evaluated"`
	OFREP     int64 `json:"ofrep"`
}

// Total is the number of streams of every kind.
func (c StreamCounts) Total() int64 { return c.SDK + c.Evaluated + c.OFREP }

// Stale reports whether b missed its heartbeats: its last one is more than
// two intervals before now.
func (b BearerInfo) Stale(now time.Time) bool {
	return now.Sub(b.LastSeen) > 2*HeartbeatInterval
}

// Check returns an error wrapping ErrBearerRecord when b breaks the bounds
// above, naming the field.
func (b *BearerInfo) Check() error {
	bad := func(field string, n int) error {
		return fmt.Errorf("%w: %s has %d bytes (at most %d)", ErrBearerRecord, field, n, MaxBearerField)
	}
	if b.ID == "" {
		return fmt.Errorf("%w: id is empty", ErrBearerRecord)
	}
	for field, v := range map[string]string{"id": b.ID, "host": b.Host, "address": b.Address, "version": b.Version} {
		if len(v) > MaxBearerField {
			return bad(field, len(v))
		}
	}
	if len(b.Envs) > MaxBearerEnvs {
		return fmt.Errorf("%w: %d environments (at most %d)", ErrBearerRecord, len(b.Envs), MaxBearerEnvs)
	}
	for env, e := range b.Envs {
		if len(env) > MaxBearerField {
			return bad("environment name", len(env))
		}
		if len(e.Version) > MaxBearerField {
			return bad("environments."+env+".version", len(e.Version))
		}
	}
	return nil
}

// Clip cuts b down to the bounds: text fields to MaxBearerField bytes,
// environments to the first MaxBearerEnvs by name (counting the others in
// EnvsOmitted). A bearer clips its record before it puts it.
func (b *BearerInfo) Clip() {
	clip := func(s string) string {
		if len(s) <= MaxBearerField {
			return s
		}
		return strings.ToValidUTF8(s[:MaxBearerField], "")
	}
	b.ID, b.Host, b.Address, b.Version = clip(b.ID), clip(b.Host), clip(b.Address), clip(b.Version)
	names := make([]string, 0, len(b.Envs))
	for env := range b.Envs {
		names = append(names, env)
	}
	slices.Sort(names)
	envs := make(map[string]BearerEnv, min(len(names), MaxBearerEnvs))
	for _, env := range names {
		if len(envs) == MaxBearerEnvs || len(env) > MaxBearerField {
			b.EnvsOmitted++
			continue
		}
		e := b.Envs[env]
		e.Version = clip(e.Version)
		envs[env] = e
	}
	b.Envs = envs
}

// Presence is where bearers record that they run (see BearerInfo). Every
// Store is one.
type Presence interface {
	// PutBearer writes b's record, which lives ttl unless written again.
	// A record out of bounds (BearerInfo.Check) is refused.
	PutBearer(ctx context.Context, b *BearerInfo, ttl time.Duration) error
	// RemoveBearer deletes the record of id (a bearer stopping); an absent
	// one is not an error.
	RemoveBearer(ctx context.Context, id string) error
	// Bearers lists the records that have not expired, the most recently
	// seen first, at most MaxBearers of them.
	Bearers(ctx context.Context) ([]BearerInfo, error)
}

// SortBearers orders records the most recently seen first, then by id.
func SortBearers(list []BearerInfo) {
	slices.SortFunc(list, func(a, b BearerInfo) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// MaxBearerRecordBytes caps the JSON of one record as a store keeps it; a
// record within the bounds above is far smaller. A store skips a larger
// record when it lists them.
const MaxBearerRecordBytes = 64 << 10

// BearerView is a record as /v1/status and the dashboard show it: Stale
// when it missed its heartbeats.
type BearerView struct {
	BearerInfo
	Stale bool `json:"stale"`
}

// ViewBearers returns list with, in each record, only the environments may
// allows, each record marked stale or not at now.
func ViewBearers(list []BearerInfo, may func(env string) bool, now time.Time) []BearerView {
	out := make([]BearerView, 0, len(list))
	for _, b := range list {
		envs := make(map[string]BearerEnv, len(b.Envs))
		for env, e := range b.Envs {
			if may(env) {
				envs[env] = e
			}
		}
		b.Envs = envs
		out = append(out, BearerView{BearerInfo: b, Stale: b.Stale(now)})
	}
	return out
}
