package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Handle registers the admin routes on m: GET /v1/admin/overrides, PUT
// and DELETE /v1/admin/overrides/{env}/{flag}.
func (a *API) Handle(m *httpx.Mux) {
	m.Handle("GET", "/v1/admin/overrides", http.HandlerFunc(a.serveList))
	m.Handle("PUT", "/v1/admin/overrides/{env}/{flag}", http.HandlerFunc(a.servePut))
	m.Handle("DELETE", "/v1/admin/overrides/{env}/{flag}", http.HandlerFunc(a.serveDelete))
}

// HandleTriggers registers POST /v1/triggers/{token} on m.
func (a *API) HandleTriggers(m *httpx.Mux) {
	m.Handle("POST", "/v1/triggers/{token}", http.HandlerFunc(a.serveTrigger))
}

// alert is what a trigger reads from an alerting tool's payload: a reason
// and whether the alert is resolved. Every field is optional.
type alert struct {
	Title             string `json:"title"`   // Grafana, Datadog
	Message           string `json:"message"` // Grafana
	State             string `json:"state"`   // Grafana legacy: ok, alerting
	Status            string `json:"status"`  // Alertmanager, Grafana: firing, resolved
	AlertTransition   string `json:"alert_transition"`
	CommonAnnotations struct {
		Summary string `json:"summary"`
	} `json:"commonAnnotations"`
	Event struct {
		EventType string `json:"event_type"`
		Data      struct {
			Title string `json:"title"`
		} `json:"data"`
		Summary string `json:"summary"`
	} `json:"event"` // PagerDuty v3 webhooks
}

// reason returns the alert's own words, "" when it has none.
func (al *alert) reason() string {
	for _, s := range []string{al.CommonAnnotations.Summary, al.Title, al.Event.Summary, al.Event.Data.Title, al.Message} {
		if s = strings.TrimSpace(s); s != "" {
			if al.Status != "" {
				s += " (" + al.Status + ")"
			}
			return s
		}
	}
	return ""
}

// resolved reports whether the alert says it is over.
func (al *alert) resolved() bool {
	return strings.EqualFold(al.Status, "resolved") || strings.EqualFold(al.State, "ok") ||
		al.Event.EventType == "incident.resolved" || strings.EqualFold(al.AlertTransition, "Recovered")
}

// serveTrigger is POST /v1/triggers/{token}: the trigger's action, or a
// clear when the payload says the alert is resolved.
func (a *API) serveTrigger(w http.ResponseWriter, r *http.Request) {
	_, triggers, err := a.snapshots(r.Context())
	if err != nil {
		storeError(w, err)
		return
	}
	// The lookup compares the token's hash with every trigger's, whatever
	// the token: a wrong token costs the same and gets the same answer.
	t, ok := triggers.Lookup(r.PathValue("token"))
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no such trigger")
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, fmt.Sprintf("body larger than %d bytes", a.opts.MaxBodyBytes))
		return
	}
	var al alert
	_ = json.Unmarshal(b, &al) // any body, or none: only these fields are read
	reason := al.reason()
	if reason == "" {
		reason = "alert trigger " + t.Name
	}
	reason = truncate(reason, MaxReasonBytes)
	by := "trigger:" + t.Name
	action := t.Action
	if al.resolved() {
		action = store.TriggerClear
	}
	snap, err := a.opts.Store.Snapshot(r.Context(), t.Environment)
	if err != nil || snap.Document == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "environment "+t.Environment+" has no rule set loaded")
		return
	}
	e := store.LayerEntry{Flag: t.Flag, At: a.now(), By: by, Requester: by, Reason: reason}
	answer := map[string]any{"trigger": t.Name, "environment": t.Environment, "flag": t.Flag, "action": action.String()}
	switch action {
	case store.TriggerClear:
		l, err := a.opts.Store.Layer(r.Context(), t.Environment)
		if err != nil {
			storeError(w, err)
			return
		}
		if !inForce(snap.Document, l, t.Flag) {
			answer["cleared"] = false
			answer["version"] = store.ServedVersion(snap.Version, l.Seq)
			httpx.WriteJSON(w, http.StatusOK, answer)
			return
		}
	default:
		f := snap.Document.Flags.Get(t.Flag)
		if f == nil {
			httpx.WriteError(w, http.StatusConflict, httpx.CodeConflict, fmt.Sprintf("trigger %s: flag %q is not in %s", t.Name, t.Flag, t.Environment))
			return
		}
		serve := t.Variant
		if action == store.TriggerOff {
			serve = f.Off
		}
		answer["serve"] = serve
		e.Override = &ruleset.Override{Flag: t.Flag, Environment: t.Environment, Serve: serve, Reason: reason, By: by, At: e.At}
	}
	a.write(w, r, t.Environment, e, func(version string) any {
		answer["version"] = version
		return answer
	})
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
