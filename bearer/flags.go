package bearer

import (
	"net/http"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

// serveFlags is GET /v1/flags: the environment's full rule set, with the
// version as its ETag.
func (s *Server) serveFlags(w http.ResponseWriter, r *http.Request) {
	a, fail := s.authenticate(r, "", store.KeyServer)
	if fail != nil {
		httpx.WriteError(w, fail.status, fail.code, fail.message)
		return
	}
	etag := `"` + a.state.version + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, err := a.state.docJSON()
	if err != nil {
		s.log.Error("encoding the rule set", "environment", a.state.env, "version", a.state.version, "error", err)
		httpx.WriteError(w, http.StatusInternalServerError, httpx.CodeInternal, "the rule set cannot be encoded")
		return
	}
	httpx.WriteEncoded(w, http.StatusOK, body)
}
