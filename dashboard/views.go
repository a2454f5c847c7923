package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// serveBreakers is GET /ui/api/breakers: every breaker p sees with its
// recent history.
func (d *Dashboard) serveBreakers(w http.ResponseWriter, _ *http.Request, p *principal) {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"interval_ms": d.opts.Interval.Milliseconds(), "breakers": d.breakers(p)})
}

// audienceRow is one audience of one environment with the flags using it.
type audienceRow struct {
	Environment string            `json:"environment"`
	Audience    *ruleset.Audience `json:"audience"`
	Words       string            `json:"words"`
	UsedBy      []string          `json:"used_by"`
}

// attributeRow is an attribute that conditions test.
type attributeRow struct {
	Name   string           `json:"name"`
	Type   ruleset.AttrType `json:"type"`
	UsedBy []string         `json:"used_by"` // audiences and flags ("flag:key")
}

// serveAudiences is GET /ui/api/audiences: each audience of each
// environment p sees, the flags that use it, and the attributes tested.
func (d *Dashboard) serveAudiences(w http.ResponseWriter, r *http.Request, p *principal) {
	auds := []audienceRow{}
	attrs := map[string]*attributeRow{}
	use := func(c ruleset.Condition, by string) {
		if c.Attribute == "" {
			return
		}
		a := attrs[c.Attribute]
		if a == nil {
			a = &attributeRow{Name: c.Attribute, Type: c.Type}
			attrs[c.Attribute] = a
		}
		if !slices.Contains(a.UsedBy, by) {
			a.UsedBy = append(a.UsedBy, by)
		}
	}
	for _, env := range p.Envs {
		doc, _, err := d.served(r.Context(), env)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			storeError(w, err)
			return
		}
		usedBy := map[string][]string{}
		for _, key := range doc.Flags.Keys() {
			f := doc.Flags.Get(key)
			for _, a := range usedAudiences(doc, f) {
				usedBy[a] = append(usedBy[a], key)
			}
			for _, rule := range f.Rules {
				for _, c := range rule.Conditions {
					use(c, "flag:"+key)
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(doc.Audiences)) {
			a := doc.Audiences[name]
			auds = append(auds, audienceRow{Environment: env, Audience: a, Words: ruleset.DescribeAudience(a), UsedBy: append([]string{}, usedBy[name]...)})
			for _, c := range a.Conditions {
				use(c, name)
			}
		}
	}
	list := make([]*attributeRow, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		slices.Sort(attrs[k].UsedBy)
		list = append(list, attrs[k])
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"audiences": auds, "attributes": list})
}

// syncState is GET /ui/api/sync and the "sync" event.
func (d *Dashboard) syncState(ctx context.Context, p *principal) map[string]any {
	out := map[string]any{"streams": d.hub.count()}
	var st *store.SyncStatus
	if d.opts.Sync != nil {
		s := d.opts.Sync()
		st = &s
	} else if s, err := d.opts.Store.Status(ctx); err == nil {
		st = s
	} else {
		out["status_error"] = "reading the sync status: " + err.Error()
	}
	if st != nil {
		s := *st
		if p != nil && s.Envs != nil {
			s.Envs = maps.Clone(s.Envs)
			maps.DeleteFunc(s.Envs, func(env string, _ store.EnvStatus) bool { return !p.may(env) })
		}
		out["status"] = s
	}
	if d.opts.SDKStreams != nil {
		n := d.opts.SDKStreams(ctx)
		if p != nil {
			maps.DeleteFunc(n, func(env string, _ int64) bool { return !p.may(env) })
		}
		out["sdk_streams"] = n
	}
	d.bearers(ctx, p, out)
	if d.opts.Extra != nil {
		for k, v := range d.opts.Extra(ctx) {
			if k == "writeback" && p != nil {
				v = filterPending(v, p)
			}
			if k == "overrides" && p != nil {
				// By environment: keep those p may see.
				var byEnv map[string]json.RawMessage
				if b, err := json.Marshal(v); err == nil && json.Unmarshal(b, &byEnv) == nil {
					maps.DeleteFunc(byEnv, func(env string, _ json.RawMessage) bool { return !p.may(env) })
					v = byEnv
				}
			}
			out[k] = v
		}
	}
	return out
}

func (d *Dashboard) serveSync(w http.ResponseWriter, r *http.Request, p *principal) {
	httpx.WriteJSON(w, http.StatusOK, d.syncState(r.Context(), p))
}

// filterPending keeps, of the write-back state {"pending":[...]}, the
// entries of environments p may see.
func filterPending(v any, p *principal) any {
	var wb struct {
		Pending []map[string]any `json:"pending"`
	}
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &wb) != nil {
		return v
	}
	kept := []map[string]any{}
	for _, e := range wb.Pending {
		if env, _ := e["environment"].(string); p.may(env) {
			kept = append(kept, e)
		}
	}
	return map[string]any{"pending": kept}
}

// publishSync sends the sync state to the open pages when it changed.
func (d *Dashboard) publishSync(ctx context.Context) {
	if d.hub.count() == 0 {
		return
	}
	st := d.syncState(ctx, nil)
	// Heartbeats alone are no change: the page ages last_seen by itself
	// from "now", and a bearer turning stale changes its "stale".
	delete(st, "now")
	if list, ok := st["bearers"].([]store.BearerView); ok {
		list = slices.Clone(list)
		for i := range list {
			list[i].LastSeen = time.Time{}
		}
		st["bearers"] = list
	}
	b, _ := json.Marshal(st)
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	d.mu.Lock()
	same := h == d.syncHash
	d.syncHash = h
	d.mu.Unlock()
	if !same {
		// Only that it changed: each page reloads /ui/api/sync, which
		// filters by its key's environments.
		d.hub.publish(event{name: "sync", data: map[string]any{"streams": d.hub.count()}})
	}
}
