package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// TokenName is the name the dashboard shows for FLAGPOLE_ADMIN_TOKEN.
const TokenName = "admin-token"

// principal is who a request comes from: a viewer or admin key (or the
// admin token) and the environments it may see.
type principal struct {
	Name string        `json:"name"`
	Kind store.KeyKind `json:"kind"`
	Envs []string      `json:"environments"`
	// AdminEnvs are the environments where the key may set overrides.
	AdminEnvs []string        `json:"admin_environments"`
	envs      map[string]bool // the same, for lookups
	hash      keyring.Hash
	token     bool
}

// may reports whether p may see env.
func (p *principal) may(env string) bool { return p.envs[env] }

// keyView is one environment's keyring at one snapshot version.
type keyView struct {
	version string
	ring    *keyring.Ring
}

// keys checks presented keys against every environment's snapshot, reading
// a snapshot again only when its version changed.
type keys struct {
	st        store.Store
	tokenHash keyring.Hash
	hasToken  bool

	mu    sync.Mutex
	views map[string]keyView
}

func newKeys(st store.Store, adminToken string) *keys {
	k := &keys{st: st, views: map[string]keyView{}}
	if adminToken != "" {
		k.tokenHash, k.hasToken = sha256.Sum256([]byte(adminToken)), true
	}
	return k
}

// rings returns the keyring of every environment that has a snapshot.
func (k *keys) rings(ctx context.Context) (map[string]keyView, error) {
	versions, err := k.st.Versions(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	next := make(map[string]keyView, len(versions))
	for env, v := range versions {
		if old, ok := k.views[env]; ok && old.version == v {
			next[env] = old
			continue
		}
		snap, err := k.st.Snapshot(ctx, env)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ring, err := keyring.New(snap.Keys, env, store.KeyServer, store.KeyClient, store.KeyAdmin, store.KeyViewer)
		if err != nil {
			return nil, err
		}
		next[env] = keyView{version: snap.Version, ring: ring}
	}
	k.views = next
	return next, nil
}

// authenticate returns the request's principal, or answers 401 (no key,
// unknown key), 403 (an SDK key) or 503 (the store does not answer).
func (k *keys) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, "missing key: sign in with a viewer or admin key (Authorization: Bearer <key>)")
		return nil, false
	}
	views, err := k.rings(r.Context())
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "store unavailable: "+err.Error())
		return nil, false
	}
	p, code := k.match(keyring.Sum(token), views)
	switch code {
	case http.StatusForbidden:
		httpx.WriteError(w, code, httpx.CodeForbidden, "this is an SDK key: the dashboard takes a viewer or admin key")
		return nil, false
	case http.StatusUnauthorized:
		httpx.WriteError(w, code, httpx.CodeUnauthorized, "unknown key: sign in with a viewer or admin key from flagpole.yaml")
		return nil, false
	}
	return p, true
}

// match finds h among the admin token and every environment's viewer and
// admin keys, comparing in constant time with all of them. A key that is
// an admin key in one environment and a viewer key in another is an admin
// key where it is one; p.Kind is admin when it is one anywhere.
func (k *keys) match(h keyring.Hash, views map[string]keyView) (*principal, int) {
	envs := slices.Sorted(maps.Keys(views))
	p := &principal{envs: map[string]bool{}, hash: h, Kind: store.KeyViewer}
	isToken := k.hasToken && subtle.ConstantTimeCompare(h[:], k.tokenHash[:]) == 1
	sdk := false
	admin := map[string]bool{}
	for _, env := range envs {
		e, ok := views[env].ring.Match(h)
		switch {
		case !ok:
		case e.Kind == store.KeyAdmin || e.Kind == store.KeyViewer:
			p.Name, p.envs[env] = e.Name, true
			admin[env] = e.Kind == store.KeyAdmin
		default:
			sdk = true
		}
	}
	switch {
	case isToken:
		p = &principal{Name: TokenName, Kind: store.KeyAdmin, envs: map[string]bool{}, hash: h, token: true}
		for _, env := range envs {
			p.envs[env] = true
		}
	case len(p.envs) == 0 && sdk:
		return nil, http.StatusForbidden
	case len(p.envs) == 0:
		return nil, http.StatusUnauthorized
	}
	for _, env := range envs {
		if p.envs[env] {
			p.Envs = append(p.Envs, env)
			if admin[env] || p.token {
				p.Kind = store.KeyAdmin
				p.AdminEnvs = append(p.AdminEnvs, env)
			}
		}
	}
	if p.Envs == nil {
		p.Envs = []string{}
	}
	if p.AdminEnvs == nil {
		p.AdminEnvs = []string{}
	}
	return p, 0
}

// still reports whether p's key is still accepted (a stream re-checks it
// when a rule set changes, so a key removed from git loses its stream).
func (k *keys) still(ctx context.Context, p *principal) bool {
	if p.token {
		return true
	}
	views, err := k.rings(ctx)
	if err != nil {
		return true // the store is down: keep the stream, check again later
	}
	for env := range p.envs {
		v, ok := views[env]
		if ok && (v.ring.Allows(p.hash, store.KeyViewer) || v.ring.Allows(p.hash, store.KeyAdmin)) {
			return true
		}
	}
	return false
}
