package bearer

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// BenchmarkOFREPBulkHandler measures the handler alone (no network): one
// POST /ofrep/v1/evaluate/flags with 100 flags, its ETag and the event
// stream token it advertises.
func BenchmarkOFREPBulkHandler(b *testing.B) {
	srv, _, _ := benchServer(b, doc100("v1"))
	h := srv.Handler()
	body := []byte(`{"context":{"targetingKey":"user-7","state":"CA","student":true,"age":21}}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+serverKey)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkEventToken measures minting and checking one event stream
// token: the work a bulk response adds, and what a refused token costs.
func BenchmarkEventToken(b *testing.B) {
	srv, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		b.Fatal(err)
	}
	exp := tokenExpiry(time.Now(), DefaultEventTokenWindow)
	key := keyring.Sum(serverKey)
	b.Run("mint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = srv.mintEventToken("production", key, exp)
		}
	})
	tok := srv.mintEventToken("production", key, exp)
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := srv.parseEventToken(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
