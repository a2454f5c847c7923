// Package admin serves the write side of the runtime override layer over
// HTTP: the admin API (GET, PUT and DELETE /v1/admin/overrides) for people
// and the CLI, and the alert triggers (POST /v1/triggers/{token}) for APM
// and paging tools. Both write to the store's override layer
// (store.Overrider), which every bearer applies at once; the leading
// syncer's recorder then commits each entry to git.
//
// Admin keys come from the snapshots (flagpole.yaml's keys of kind admin),
// checked by SHA-256 in constant time; FLAGPOLE_ADMIN_TOKEN, when the
// process has one, is an admin credential for every environment. Triggers
// come from the snapshots too, so a bearer alone can answer them.
//
// docs/http-api.md describes the routes and docs/overrides.md their use.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// DefaultMaxBodyBytes caps request bodies unless Options say otherwise.
const DefaultMaxBodyBytes = 64 << 10

// MaxReasonBytes caps an override's reason.
const MaxReasonBytes = 1000

// TokenName is the requester name of FLAGPOLE_ADMIN_TOKEN.
const TokenName = "admin-token"

// CodeNotLeader is the error code of a write sent to a standby syncer.
const CodeNotLeader = httpx.CodeNotLeader

// Write-back states of a listed override.
const (
	WritebackLanded  = "landed"  // git holds it
	WritebackPending = "pending" // in the layer, on its way to git
	WritebackNone    = "none"    // in the layer, and no write-back will record it
)

// LayerStore is a store with an override layer: store.Memory and
// redisstore.Redis.
type LayerStore interface {
	store.Store
	store.Overrider
}

// Options configures an API. Store is required.
type Options struct {
	Store LayerStore
	// AdminToken is FLAGPOLE_ADMIN_TOKEN: an admin credential for every
	// environment. "": none.
	AdminToken string
	// Leader, when set, says whether this process may write overrides
	// (it leads) and otherwise the leader's address, if known. Nil: it
	// always may (serve, bearer triggers).
	Leader func(ctx context.Context) (leading bool, leader string)
	// Writeback says how far the write-back of a layer entry got:
	// WritebackLanded, WritebackPending or WritebackNone. Nil: pending.
	Writeback func(env string, e store.LayerEntry) string
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Clock gives the at of new overrides. Default: the real clock.
	Clock clockwork.Clock
	// Logger hears of every override written. Default: discard.
	Logger *slog.Logger
}

// API is the admin API and the trigger endpoint of one process.
type API struct {
	opts      Options
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	hasToken  bool

	mu       sync.Mutex // guards the cache below
	views    map[string]*cachedView
	triggers *keyring.Triggers

	atMu   sync.Mutex
	lastAt time.Time
}

// view is one environment's snapshot and the keyring of its keys.
type view struct {
	snap *store.Snapshot
	ring *keyring.Ring
}

// New returns an API for opts.
func New(opts Options) (*API, error) {
	if opts.Store == nil {
		return nil, errors.New("admin: Options.Store is required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{opts: opts, log: opts.Logger, views: map[string]*cachedView{}}
	if opts.AdminToken != "" {
		a.tokenHash, a.hasToken = sha256.Sum256([]byte(opts.AdminToken)), true
	}
	a.triggers, _ = keyring.NewTriggers(nil)
	return a, nil
}

// cachedView is a view kept between requests. With a store that shares
// its snapshots (sinceStore) the snapshot is held weakly: the bearer holds
// the version it serves, and a version it dropped must not stay alive in
// the admin API until the next admin request (at 100,000 flags, a whole
// Document per environment). Otherwise it is held, as it was read.
type cachedView struct {
	version string
	strong  *store.Snapshot
	weak    weak.Pointer[store.Snapshot]
	ring    *keyring.Ring
}

// snap returns the cached snapshot, or nil when it was collected.
func (c *cachedView) snap() *store.Snapshot {
	if c.strong != nil {
		return c.strong
	}
	return c.weak.Value()
}

// snapshots returns the current view of every environment, reading again
// only the snapshots whose version changed (or, held weakly, were
// collected), and the triggers of all.
func (a *API) snapshots(ctx context.Context) (map[string]*view, *keyring.Triggers, error) {
	versions, err := a.opts.Store.Versions(ctx)
	if err != nil {
		return nil, nil, err
	}
	_, shares := a.opts.Store.(sinceStore)
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := len(versions) != len(a.views)
	next := make(map[string]*cachedView, len(versions))
	out := make(map[string]*view, len(versions))
	for env, v := range versions {
		old := a.views[env]
		var have *store.Snapshot
		if old != nil {
			have = old.snap()
		}
		if old != nil && old.version == v && have != nil {
			next[env], out[env] = old, &view{snap: have, ring: old.ring}
			continue
		}
		snap, err := a.snapshot(ctx, env, have)
		if errors.Is(err, store.ErrNotFound) {
			changed = changed || old != nil
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		ring := (*keyring.Ring)(nil)
		if old != nil && old.version == snap.Version && have == nil {
			ring = old.ring // collected and read again: the same version
		} else {
			changed = true
			if ring, err = keyring.New(snap.Keys, env, store.KeyServer, store.KeyClient, store.KeyAdmin, store.KeyViewer); err != nil {
				return nil, nil, err
			}
		}
		c := &cachedView{version: snap.Version, ring: ring}
		if shares {
			c.weak = weak.Make(snap)
		} else {
			c.strong = snap
		}
		next[env], out[env] = c, &view{snap: snap, ring: ring}
	}
	if changed {
		var all []store.Trigger
		for _, env := range slices.Sorted(maps.Keys(out)) {
			all = append(all, out[env].snap.Triggers...)
		}
		tr, err := keyring.NewTriggers(all)
		if err != nil {
			return nil, nil, err
		}
		a.triggers = tr
	}
	a.views = next
	return out, a.triggers, nil
}

// sinceStore is a store that brings a snapshot up to date from its
// patches, and shares the snapshot it last returned with every caller
// (redisstore): the admin API of a bearer then holds the very rule set
// the bearer serves instead of decoding its own copy of every environment
// (at 100,000 flags, hundreds of megabytes and tens of seconds of a busy
// machine on the first GET /v1/status).
type sinceStore interface {
	SnapshotSince(ctx context.Context, env string, have *store.Snapshot) (*store.Snapshot, error)
}

// snapshot reads env's current snapshot, from have when the store can.
func (a *API) snapshot(ctx context.Context, env string, have *store.Snapshot) (*store.Snapshot, error) {
	if ss, ok := a.opts.Store.(sinceStore); ok {
		return ss.SnapshotSince(ctx, env, have)
	}
	return a.opts.Store.Snapshot(ctx, env)
}

// principal is who an admin request comes from.
type principal struct {
	name string
	all  bool            // FLAGPOLE_ADMIN_TOKEN
	envs map[string]bool // environments of an admin key
}

func (p principal) may(env string) bool { return p.all || p.envs[env] }

// authenticate checks the request's admin credential; on failure it has
// answered 401 or 403.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, views map[string]*view) (principal, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, "missing admin key: send Authorization: Bearer <key>")
		return principal{}, false
	}
	h := keyring.Sum(token)
	if a.hasToken && subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) == 1 {
		return principal{name: TokenName, all: true}, true
	}
	p := principal{envs: map[string]bool{}}
	other := false
	for env, v := range views {
		e, ok := v.ring.Match(h)
		switch {
		case !ok:
		case e.Kind == store.KeyAdmin:
			p.name, p.envs[env] = e.Name, true
		default:
			other = true
		}
	}
	switch {
	case len(p.envs) > 0:
		return p, true
	case other:
		httpx.WriteError(w, http.StatusForbidden, httpx.CodeForbidden, "this key is not an admin key")
	default:
		httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, "unknown admin key")
	}
	return principal{}, false
}

// now returns the at of a new override: the clock to the millisecond,
// always after the last one this process gave, so that two overrides by
// one person never share an identity (at, by).
func (a *API) now() time.Time {
	a.atMu.Lock()
	defer a.atMu.Unlock()
	t := a.opts.Clock.Now().UTC().Truncate(time.Millisecond)
	if !t.After(a.lastAt) {
		t = a.lastAt.Add(time.Millisecond)
	}
	a.lastAt = t
	return t
}

// storeError answers an error of the store.
func storeError(w http.ResponseWriter, err error) {
	httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "store unavailable: "+err.Error())
}
