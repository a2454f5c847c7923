package surface

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/flagpole/flagpole/internal/httpx"
)

// buffer is a ResponseWriter that keeps the answer for extend.
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header         { return b.header }
func (b *buffer) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *buffer) WriteHeader(status int)      { b.status = status }

// extend returns h with the fields of extra added to its JSON object
// answer. Any other answer (an error) passes unchanged.
func extend(h http.Handler, extra func(r *http.Request) map[string]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &buffer{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(b, r)
		var obj map[string]json.RawMessage
		if b.status != http.StatusOK || json.Unmarshal(b.body.Bytes(), &obj) != nil {
			for k, v := range b.header {
				w.Header()[k] = v
			}
			w.WriteHeader(b.status)
			_, _ = w.Write(b.body.Bytes())
			return
		}
		for k, v := range extra(r) {
			raw, err := json.Marshal(v)
			if err == nil {
				obj[k] = raw
			}
		}
		httpx.WriteJSON(w, http.StatusOK, obj)
	})
}
