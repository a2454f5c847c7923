package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store/redisstore"
)

// largeRepo is a valid repository of n flags.
func largeRepo(n int, desc string) map[string]string {
	files := goodRepo(desc)
	for i := range n {
		key := fmt.Sprintf("flag-%05d", i)
		files["flags/"+key+".yaml"] = fmt.Sprintf("key: %s\nenabled: %t\ndefault: on\nrules:\n  - users: [u%d]\n    serve: off\n", key, i%2 == 0, i)
	}
	return files
}

func TestSyncTenThousandFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-flag repository skipped in -short mode")
	}
	srv := redistest.Start(t)
	st, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root := filepath.Join(t.TempDir(), "repo")
	writeFiles(t, root, largeRepo(10000, "one"))
	s := newDirSyncer(t, root, st, nil)
	start := time.Now()
	runSyncer(t, s)
	waitWithin(t, time.Minute, "10,000 flags published", func() error {
		if err := hasDesc(st, "staging", "one")(); err != nil {
			return err
		}
		snap, err := st.Snapshot(context.Background(), "production")
		if err != nil {
			return err
		}
		if n := snap.Document.Flags.Len(); n != 10001 {
			return fmt.Errorf("%d flags published, want 10001", n)
		}
		return nil
	})
	t.Logf("10,000 flags loaded and published to Redis in %s", time.Since(start))

}
