package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// BenchmarkLayerPropagation measures a runtime override from SetOverride
// until the Go SDK, streaming from a real bearer on loopback, has applied
// it (store write and announcement, bearer reload and compile, patch sent,
// applied and compiled by the SDK). It reports p50 and p99 in ms.
func BenchmarkLayerPropagation(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchLayer(b, store.NewMemory()) })
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		st, err := redisstore.New(context.Background(), srv.URL(), redisstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchLayer(b, st)
	})
}

func benchLayer(b *testing.B, st interface {
	store.Store
	store.Overrider
}) {
	ctx := context.Background()
	dir := b.TempDir()
	writeFiles(b, dir, layerRepo(""))
	repo, err := loader.Load(dir, loader.Options{Revision: "v1"})
	if err != nil {
		b.Fatal(err)
	}
	doc := repo.Documents["production"]
	sum := sha256.Sum256([]byte(layerKey))
	keys := []store.Key{{Name: "svc", Environment: "production", Kind: store.KeyServer, SHA256: hex.EncodeToString(sum[:])}}
	if err := st.Publish(ctx, &store.Snapshot{Environment: "production", Version: doc.Version, Document: doc, Keys: keys}); err != nil {
		b.Fatal(err)
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := sdk.New(ctx, sdk.Options{URL: serveBearer(b, st, discard), Key: layerKey, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seen := make(chan string, 16)
	defer c.Subscribe(func(ch sdk.Change) { seen <- ch.Version })()
	lat := make([]time.Duration, 0, b.N)
	serve := [2]string{"off", "on"}
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		o := &ruleset.Override{Flag: "alpha", Serve: serve[i%2], By: "bench", At: start}
		seq, err := st.SetOverride(ctx, "production", store.LayerEntry{Flag: "alpha", Override: o})
		if err != nil {
			b.Fatal(err)
		}
		awaitVersion(b, seen, store.ServedVersion(doc.Version, seq))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	report(b, lat, 0)
}

// awaitVersion waits until the SDK reports version want.
func awaitVersion(b *testing.B, seen <-chan string, want string) {
	timeout := time.NewTimer(eventually)
	defer timeout.Stop()
	for {
		select {
		case got := <-seen:
			if got == want {
				return
			}
		case <-timeout.C:
			b.Fatalf("the SDK did not report %s within %s", want, eventually)
		}
	}
}

// serveBearer runs a bearer on st over loopback HTTP and returns its base
// URL.
func serveBearer(t testing.TB, st bearer.Store, log *slog.Logger) string {
	t.Helper()
	srv, err := bearer.New(bearer.Options{Store: st, Logger: log, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ts.URL
}
