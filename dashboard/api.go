package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// routes mounts the page and its API.
func (d *Dashboard) routes() http.Handler {
	m := httpx.NewMux()
	files := staticHandler()
	for _, name := range []string{"{$}", "app.js", "app.css"} {
		m.Handle("GET", "/ui/"+name, files)
	}
	m.Handle("GET", "/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	api := func(method, path string, h func(http.ResponseWriter, *http.Request, *principal)) {
		m.Handle(method, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			p, ok := d.keys.authenticate(w, r)
			if ok {
				h(w, r, p)
			}
		}))
	}
	api("GET", "/ui/api/session", d.serveSession)
	api("GET", "/ui/api/flags", d.serveFlags)
	api("GET", "/ui/api/flags/{env}/{flag}", d.serveFlag)
	api("POST", "/ui/api/flags/{env}/{flag}/evaluate", d.serveEvaluate)
	api("GET", "/ui/api/breakers", d.serveBreakers)
	api("GET", "/ui/api/audiences", d.serveAudiences)
	api("GET", "/ui/api/sync", d.serveSync)
	api("GET", "/ui/api/events", d.serveEvents)
	return m
}

// serveSession is GET /ui/api/session: who the key is.
func (d *Dashboard) serveSession(w http.ResponseWriter, _ *http.Request, p *principal) {
	httpx.WriteJSON(w, http.StatusOK, p)
}

// served returns env's rule set as bearers serve it (the layer applied),
// the layer, and whether env exists.
func (d *Dashboard) served(ctx context.Context, env string) (*ruleset.Document, store.Layer, error) {
	snap, err := d.opts.Store.Snapshot(ctx, env)
	if err != nil {
		return nil, store.Layer{}, err
	}
	if snap.Document == nil {
		return nil, store.Layer{}, store.ErrNotFound
	}
	l, err := d.opts.Store.Layer(ctx, env)
	if err != nil {
		return nil, store.Layer{}, err
	}
	doc, _ := l.Apply(snap.Document)
	return doc, l, nil
}

// flagEnv is one flag's state in one environment, for the list.
type flagEnv struct {
	Enabled  bool              `json:"enabled"`
	Summary  string            `json:"summary"` // what it serves, in a few words
	Rules    int               `json:"rules"`
	Override *ruleset.Override `json:"override,omitempty"`
	Breaker  string            `json:"breaker,omitempty"` // state when it has one
}

// flagRow is one flag of the list, in every environment the key sees.
type flagRow struct {
	Key         string              `json:"key"`
	Name        string              `json:"name,omitempty"`
	Description string              `json:"description,omitempty"`
	Owner       string              `json:"owner,omitempty"`
	Type        ruleset.FlagType    `json:"type"`
	Kind        ruleset.Kind        `json:"kind,omitempty"`
	Client      bool                `json:"client,omitempty"`
	Expires     string              `json:"expires,omitempty"`
	Stale       string              `json:"stale,omitempty"`
	Envs        map[string]*flagEnv `json:"environments"`
}

// serveFlags is GET /ui/api/flags: every flag in every environment p sees.
func (d *Dashboard) serveFlags(w http.ResponseWriter, r *http.Request, p *principal) {
	rows := map[string]*flagRow{}
	versions := map[string]string{}
	added := d.added(r.Context())
	now := d.opts.Clock.Now()
	for _, env := range p.Envs {
		doc, _, err := d.served(r.Context(), env)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			storeError(w, err)
			return
		}
		versions[env] = doc.Version
		for key, f := range doc.Flags.All() {
			row := rows[key]
			if row == nil {
				row = &flagRow{Key: key, Name: f.Name, Description: f.Description, Owner: f.Owner, Type: f.Type,
					Kind: f.Kind, Client: f.Client, Expires: f.Expires, Stale: staleNote(f, added[key], now),
					Envs: map[string]*flagEnv{}}
				rows[key] = row
			}
			fe := &flagEnv{Enabled: f.Enabled, Summary: summary(f), Rules: len(f.Rules), Override: doc.Overrides[key]}
			if b, ok := d.breakerOfFlag(env, key); ok {
				fe.Breaker = b.State
			}
			row.Envs[env] = fe
		}
	}
	list := make([]*flagRow, 0, len(rows))
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		list = append(list, rows[k])
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"environments": p.Envs, "versions": versions, "flags": list})
}

// added returns when each flag file was first committed, or nil without
// a git history (then only expires dates make flags stale).
func (d *Dashboard) added(ctx context.Context) map[string]time.Time {
	if d.opts.History == nil {
		return nil
	}
	a, err := d.opts.History.Added(ctx)
	if err != nil {
		d.log.Warn("dashboard: reading when flags were added", "err", err)
		return nil
	}
	return a
}

// summary says in a few words what a flag serves without an override.
func summary(f *ruleset.Flag) string {
	switch {
	case !f.Enabled:
		return "disabled: serves " + f.Off
	case len(f.Rules) == 0:
		return "serves " + f.Default + " to everyone"
	case len(f.Rules) == 1:
		return "1 rule, else " + f.Default
	}
	return fmt.Sprintf("%d rules, else %s", len(f.Rules), f.Default)
}

// flagDetail is GET /ui/api/flags/{env}/{flag}.
type flagDetail struct {
	Environment string                       `json:"environment"`
	Version     string                       `json:"version"`
	Commit      string                       `json:"commit,omitempty"`
	Flag        *ruleset.Flag                `json:"flag"`
	Override    *ruleset.Override            `json:"override,omitempty"`
	Source      string                       `json:"override_source,omitempty"` // git or layer
	Words       flagWords                    `json:"words"`
	Audiences   map[string]*ruleset.Audience `json:"audiences"`
	// AudienceWords says whom each audience matches.
	AudienceWords map[string]string `json:"audience_words"`
	Breaker       *Breaker          `json:"breaker,omitempty"`
	History       *FileHistory      `json:"history,omitempty"`
	HistoryErr    string            `json:"history_error,omitempty"`
	Now           time.Time         `json:"now"`
}

// target resolves {env}/{flag}: 404 for an environment p may not see or
// that does not exist (the same answer, so keys learn nothing), or for an
// unknown flag.
func (d *Dashboard) target(w http.ResponseWriter, r *http.Request, p *principal) (*ruleset.Document, store.Layer, *ruleset.Flag, bool) {
	env, key := r.PathValue("env"), r.PathValue("flag")
	if !p.may(env) {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("no environment %q for this key (environments: %s)", env, strings.Join(p.Envs, ", ")))
		return nil, store.Layer{}, nil, false
	}
	doc, l, err := d.served(r.Context(), env)
	if errors.Is(err, store.ErrNotFound) {
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "environment "+env+" has no rule set loaded yet; see the Sync view")
		return nil, l, nil, false
	}
	if err != nil {
		storeError(w, err)
		return nil, l, nil, false
	}
	f := doc.Flags.Get(key)
	if f == nil {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("no flag %q in environment %s", key, env))
		return nil, l, nil, false
	}
	return doc, l, f, true
}

func (d *Dashboard) serveFlag(w http.ResponseWriter, r *http.Request, p *principal) {
	doc, l, f, ok := d.target(w, r, p)
	if !ok {
		return
	}
	out := flagDetail{Environment: doc.Environment, Version: doc.Version, Commit: doc.Commit, Flag: f,
		Override: doc.Overrides[f.Key], Audiences: map[string]*ruleset.Audience{}, Now: d.opts.Clock.Now().UTC()}
	if out.Override != nil {
		out.Source = "git"
		if e, ok := l.Entries[f.Key]; ok && e.Override != nil {
			out.Source = "layer"
		}
	}
	out.Words = describeFlag(f, out.Override, d.added(r.Context())[f.Key], out.Now)
	out.AudienceWords = map[string]string{}
	for _, name := range usedAudiences(doc, f) {
		out.Audiences[name] = doc.Audiences[name]
		out.AudienceWords[name] = ruleset.DescribeAudience(doc.Audiences[name])
	}
	if b, ok := d.breakerOfFlag(doc.Environment, f.Key); ok {
		out.Breaker = &b
	}
	if d.opts.History != nil {
		h, err := d.opts.History.Of(r.Context(), FlagPaths(doc.Environment, f.Key))
		if err != nil {
			out.HistoryErr = err.Error()
		} else {
			out.History = h
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// usedAudiences lists the audiences f's rules use, directly or through
// other audiences, sorted.
func usedAudiences(doc *ruleset.Document, f *ruleset.Flag) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		a := doc.Audiences[name]
		if seen[name] || a == nil {
			return
		}
		seen[name] = true
		for _, c := range a.Conditions {
			if c.Audience != "" {
				visit(c.Audience)
			}
		}
	}
	rules := slices.Clone(f.Rules)
	for _, s := range f.Schedule {
		if s.Rules != nil {
			rules = append(rules, *s.Rules...)
		}
	}
	for _, r := range rules {
		for _, a := range r.Audiences {
			visit(a)
		}
		for _, c := range r.Conditions {
			if c.Audience != "" {
				visit(c.Audience)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// serveEvaluate is POST /ui/api/flags/{env}/{flag}/evaluate with
// {"context":{...}}: the result and the trace `flagpole eval --explain`
// prints.
func (d *Dashboard) serveEvaluate(w http.ResponseWriter, r *http.Request, p *principal) {
	doc, _, f, ok := d.target(w, r, p)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, fmt.Sprintf("the context is over %d bytes", d.opts.MaxBodyBytes))
		return
	}
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, "reading the body: "+err.Error())
		return
	}
	var in struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, `the body must be {"context":{...}}: `+err.Error())
		return
	}
	if len(in.Context) == 0 {
		in.Context = json.RawMessage(`{}`)
	}
	ctx, err := ruleset.ParseContext(in.Context)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, "context: "+err.Error())
		return
	}
	now := d.opts.Clock.Now
	rs, err := ruleset.CompileWith(doc, ruleset.Options{Now: now})
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, httpx.CodeInternal, "compiling the rule set: "+err.Error())
		return
	}
	res, tr := rs.Explain(f.Key, ctx)
	tr.Result = res
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"value": res.Value, "variant": res.Variant, "reason": res.Reason.String(),
		"rule": res.Rule, "rule_name": res.RuleName, "trace": tr.String(), "version": doc.Version})
}

// storeError answers an error of the store.
func storeError(w http.ResponseWriter, err error) {
	httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "store unavailable: "+err.Error()+"; the page retries when the server sends a change")
}
