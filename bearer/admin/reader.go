package admin

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// Reader reports whether r carries a key that may read the detail of
// GET /v1/status: a viewer or admin key (its environments: may says which)
// or FLAGPOLE_ADMIN_TOKEN (every environment). Without such a key, or when
// the store cannot be read, ok is false and nothing has been answered: the
// status then shows only what anyone may see.
func (a *API) Reader(r *http.Request) (may func(env string) bool, ok bool) {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || token == "" {
		return nil, false
	}
	h := keyring.Sum(token)
	if a.hasToken && subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) == 1 {
		return func(string) bool { return true }, true
	}
	views, _, err := a.snapshots(r.Context())
	if err != nil {
		return nil, false
	}
	envs := map[string]bool{}
	for env, v := range views {
		if e, ok := v.ring.Match(h); ok && (e.Kind == store.KeyViewer || e.Kind == store.KeyAdmin) {
			envs[env] = true
		}
	}
	if len(envs) == 0 {
		return nil, false
	}
	return func(env string) bool { return envs[env] }, true
}
