package admin

import (
	"bytes"
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

// Override is one override in force, as the admin API and /v1/status list
// it.
type Override struct {
	// Override is the override in force: environment, flag, serve,
	// reason, by, at, and expires and recovery when set.
	ruleset.Override
	// Source is "git" (an override file of the synced commit) or "layer"
	// (set at runtime, not yet in the synced commit).
	Source string `json:"source"`
	// Writeback is landed, pending or none (see the Writeback constants).
	Writeback string `json:"writeback"`
}

// List returns the overrides in force in the environments envs (nil: all),
// sorted by environment then flag.
func (a *API) List(ctx context.Context, envs func(string) bool) ([]Override, error) {
	views, _, err := a.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	out := []Override{}
	for _, env := range slices.Sorted(maps.Keys(views)) {
		if envs != nil && !envs(env) {
			continue
		}
		l, err := a.opts.Store.Layer(ctx, env)
		if err != nil {
			return nil, err
		}
		out = append(out, a.listEnv(env, views[env].snap.Document, l)...)
	}
	return out, nil
}

func (a *API) listEnv(env string, doc *ruleset.Document, l store.Layer) []Override {
	if doc == nil {
		return nil
	}
	served, _ := l.Apply(doc)
	var out []Override
	for _, flag := range slices.Sorted(maps.Keys(served.Overrides)) {
		o := served.Overrides[flag]
		item := Override{Override: *o, Source: "git", Writeback: WritebackLanded}
		item.Environment, item.Flag = env, flag
		if e, ok := l.Entries[flag]; ok && e.Override != nil {
			item.Source, item.Writeback = "layer", WritebackPending
			if a.opts.Writeback != nil {
				item.Writeback = a.opts.Writeback(env, e)
			}
		}
		out = append(out, item)
	}
	return out
}

// serveList is GET /v1/admin/overrides[?env=E].
func (a *API) serveList(w http.ResponseWriter, r *http.Request) {
	views, _, err := a.snapshots(r.Context())
	if err != nil {
		storeError(w, err)
		return
	}
	p, ok := a.authenticate(w, r, views)
	if !ok {
		return
	}
	env := r.URL.Query().Get("env")
	if env != "" && views[env] == nil {
		badRequest(w, "env", fmt.Sprintf("unknown environment %q (environments: %s)", env, strings.Join(slices.Sorted(maps.Keys(views)), ", ")))
		return
	}
	if env != "" && !p.may(env) {
		forbidden(w, env)
		return
	}
	list, err := a.List(r.Context(), func(e string) bool { return p.may(e) && (env == "" || e == env) })
	if err != nil {
		storeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"overrides": list})
}

// putBody is the body of PUT /v1/admin/overrides/{env}/{flag}.
type putBody struct {
	Serve    string  `json:"serve"`
	Off      bool    `json:"off"`
	Reason   string  `json:"reason"`
	By       string  `json:"by"`
	Expires  string  `json:"expires"`
	For      string  `json:"for"`
	Recovery *putRec `json:"recovery"`
}

type putRec struct {
	StartAt time.Time        `json:"start_at"`
	Start   float64          `json:"start"`
	Step    float64          `json:"step"`
	Every   ruleset.Duration `json:"every"`
}

// target resolves {env}/{flag} of a write: it answers 503 on a standby,
// 400 for an unknown environment, 403 for a key without it, and returns
// the environment's view.
func (a *API) target(w http.ResponseWriter, r *http.Request) (p principal, v *view, env, flag string, ok bool) {
	views, _, err := a.snapshots(r.Context())
	if err != nil {
		storeError(w, err)
		return p, nil, "", "", false
	}
	if p, ok = a.authenticate(w, r, views); !ok {
		return p, nil, "", "", false
	}
	if a.opts.Leader != nil {
		if leading, leader := a.opts.Leader(r.Context()); !leading {
			notLeader(w, leader)
			return p, nil, "", "", false
		}
	}
	env, flag = r.PathValue("env"), r.PathValue("flag")
	if v = views[env]; v == nil {
		badRequest(w, "environment", fmt.Sprintf("unknown environment %q (environments: %s)", env, strings.Join(slices.Sorted(maps.Keys(views)), ", ")))
		return p, nil, "", "", false
	}
	if !p.may(env) {
		forbidden(w, env)
		return p, nil, "", "", false
	}
	return p, v, env, flag, true
}

// servePut is PUT /v1/admin/overrides/{env}/{flag}.
func (a *API) servePut(w http.ResponseWriter, r *http.Request) {
	p, v, env, flag, ok := a.target(w, r)
	if !ok {
		return
	}
	var body putBody
	if !a.decode(w, r, &body, false) {
		return
	}
	at := a.now()
	o := ruleset.Override{Flag: flag, Environment: env, Serve: body.Serve, Reason: body.Reason, By: body.By, At: at}
	if o.By == "" {
		o.By = p.name
	}
	doc := v.snap.Document
	var probs []string
	switch {
	case body.Off && body.Serve != "":
		probs = append(probs, `serve: give serve or "off":true, not both`)
	case body.Off && doc != nil && doc.Flags.Get(flag) != nil:
		o.Serve = doc.Flags.Get(flag).Off
	case !body.Off && body.Serve == "":
		probs = append(probs, `serve: required (or "off":true)`)
	}
	switch {
	case strings.TrimSpace(body.Reason) == "":
		probs = append(probs, "reason: required")
	case len(body.Reason) > MaxReasonBytes:
		probs = append(probs, fmt.Sprintf("reason: %d bytes, at most %d", len(body.Reason), MaxReasonBytes))
	}
	switch {
	case body.Expires != "" && body.For != "":
		probs = append(probs, "for: give expires or for, not both")
	case body.Expires != "":
		t, err := time.Parse(time.RFC3339, body.Expires)
		if err != nil {
			probs = append(probs, fmt.Sprintf("expires: %q is not an RFC 3339 time such as 2026-11-21T12:00:00Z", body.Expires))
		} else {
			o.Expires = &t
		}
	case body.For != "":
		d, err := time.ParseDuration(body.For)
		if err != nil || d <= 0 {
			probs = append(probs, fmt.Sprintf("for: %q is not a positive duration such as 2h", body.For))
		} else {
			t := at.Add(d)
			o.Expires = &t
		}
	}
	if rc := body.Recovery; rc != nil {
		o.Recovery = &ruleset.Recovery{StartAt: rc.StartAt, Start: rc.Start, Step: rc.Step, Every: rc.Every}
	}
	e := store.LayerEntry{Flag: flag, Override: &o, Requester: p.name}
	if doc == nil {
		probs = append(probs, "environment: no rule set loaded yet")
	} else if _, err := store.CheckEntry(doc, env, e); err != nil {
		probs = append(probs, problems(err)...)
	}
	if len(probs) > 0 {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, strings.Join(probs, "; "))
		return
	}
	a.write(w, r, env, e, func(version string) any {
		it := Override{Override: o, Source: "layer", Writeback: WritebackPending}
		return map[string]any{"override": it, "version": version}
	})
}

// serveDelete is DELETE /v1/admin/overrides/{env}/{flag}.
func (a *API) serveDelete(w http.ResponseWriter, r *http.Request) {
	p, v, env, flag, ok := a.target(w, r)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
		By     string `json:"by"`
	}
	if !a.decode(w, r, &body, true) {
		return
	}
	if len(body.Reason) > MaxReasonBytes {
		badRequest(w, "reason", fmt.Sprintf("%d bytes, at most %d", len(body.Reason), MaxReasonBytes))
		return
	}
	l, err := a.opts.Store.Layer(r.Context(), env)
	if err != nil {
		storeError(w, err)
		return
	}
	if !inForce(v.snap.Document, l, flag) {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, fmt.Sprintf("no override of flag %q in force in %s", flag, env))
		return
	}
	by := body.By
	if by == "" {
		by = p.name
	}
	e := store.LayerEntry{Flag: flag, At: a.now(), By: by, Requester: p.name, Reason: body.Reason}
	a.write(w, r, env, e, func(version string) any {
		return map[string]any{"cleared": true, "version": version}
	})
}

// inForce reports whether flag has an override in doc with l over it.
func inForce(doc *ruleset.Document, l store.Layer, flag string) bool {
	if doc == nil {
		return false
	}
	served, _ := l.Apply(doc)
	return served.Overrides[flag] != nil
}

// write stores e in env's layer and answers with answer(served version).
func (a *API) write(w http.ResponseWriter, r *http.Request, env string, e store.LayerEntry, answer func(string) any) {
	seq, err := a.opts.Store.SetOverride(r.Context(), env, e)
	var oe *store.OverrideError
	switch {
	case errors.As(err, &oe):
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, strings.Join(problems(err), "; "))
		return
	case err != nil:
		storeError(w, err)
		return
	}
	// The version the bearers serve from now on: the snapshot's (it may
	// have changed since the check) with this entry's counter.
	version := ""
	if snap, err := a.opts.Store.Snapshot(r.Context(), env); err == nil {
		version = store.ServedVersion(snap.Version, seq)
	}
	attrs := []any{"environment", env, "flag", e.Flag, "by", e.By, "requester", e.Requester, "seq", seq}
	if e.Override != nil {
		attrs = append(attrs, "serve", e.Override.Serve)
	} else {
		attrs = append(attrs, "cleared", true)
	}
	a.log.Info("admin: override written to the layer", attrs...)
	httpx.WriteJSON(w, http.StatusOK, answer(version))
}

// decode reads a JSON body of at most MaxBodyBytes into v, strictly; an
// empty body is accepted when optional. On failure it has answered.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, fmt.Sprintf("body larger than %d bytes", a.opts.MaxBodyBytes))
		return false
	case err != nil:
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, "reading the body: "+err.Error())
		return false
	case len(bytes.TrimSpace(b)) == 0 && optional:
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

// problems lists an OverrideError's problems as "path: message".
func problems(err error) []string {
	var oe *store.OverrideError
	if !errors.As(err, &oe) {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(oe.Problems))
	for _, p := range oe.Problems {
		out = append(out, p.String())
	}
	return out
}

func badRequest(w http.ResponseWriter, field, msg string) {
	httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, field+": "+msg)
}

func forbidden(w http.ResponseWriter, env string) {
	httpx.WriteError(w, http.StatusForbidden, httpx.CodeForbidden, "this admin key is not for environment "+env)
}

// notLeader answers a write sent to a standby syncer.
func notLeader(w http.ResponseWriter, leader string) {
	msg := "this syncer is a standby; send writes to the leader"
	if leader == "" {
		msg += " (its address is not known yet)"
	}
	httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{
		"code": CodeNotLeader, "message": msg, "leader": leader}})
}
