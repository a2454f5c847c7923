package httpx

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusForbidden, CodeForbidden, "a client key cannot use /v1/flags")
	if rec.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if got, want := rec.Body.String(), `{"error":{"code":"forbidden","message":"a client key cannot use /v1/flags"}}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	var back ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &back); err != nil || back.Error.Code != CodeForbidden {
		t.Errorf("decoding the envelope: %+v, %v", back, err)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, math.Inf(1))
	var back ErrorBody
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &back) != nil || back.Error.Code != CodeInternal {
		t.Errorf("got %d %s, want a 500 envelope", rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Length") != "" && rec.Header().Get("Content-Length") != itoa(rec.Body.Len()) {
		t.Errorf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), rec.Body.Len())
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
