package bearer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzEvaluateBody: any body gets 200, 400 or 413 with a JSON answer, never
// a panic or a 5xx.
func FuzzEvaluateBody(f *testing.F) {
	srv, _, _ := benchServer(f, testDoc("production", "v1"))
	h := srv.Handler()
	for _, seed := range []string{
		`{"context":{"key":"audrey","state":"CA"}}`, `{}`, ``, `null`, `{"context":null}`,
		`{"context":[1]}`, `{"context":{"a":{"b":1}}}`, `{"context":{"n":1e400}}`, `{"context":{"k":"v"}} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/evaluate", "/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/banner"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+clientKey)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			switch w.Code {
			case 200, 400, 404, 413:
			default:
				t.Fatalf("%s %q: status %d", path, body, w.Code)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: invalid JSON answer %q", path, body, w.Body.Bytes())
			}
		}
	})
}

// FuzzStreamContext: any context query parameter is refused with 400 or
// 413, or starts a stream whose put is valid JSON.
func FuzzStreamContext(f *testing.F) {
	srv, _, _ := benchServer(f, testDoc("production", "v1"))
	h := srv.Handler()
	for _, seed := range []string{`{"key":"audrey"}`, `{}`, `[]`, `{"k":{"x":1}}`, `"`} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(seed)))
	}
	f.Add("@@@")
	f.Fuzz(func(t *testing.T, q string) {
		ts := httptest.NewServer(h)
		defer ts.Close()
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/v1/stream/evaluated?context="+url.QueryEscape(q), nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer "+clientKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			s := &stream{t: t, resp: resp, events: make(chan sseEvent, 16), ended: make(chan error, 1)}
			go s.read()
			if ev := s.next(false); ev.Event != "put" || !json.Valid([]byte(ev.Data)) {
				t.Fatalf("context %q: first event %+v", q, ev)
			}
		case 400, 413:
		default:
			t.Fatalf("context %q: status %d", q, resp.StatusCode)
		}
	})
}
