package syncer_test

import (
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// BenchmarkOneFileCommit10k measures a one-file change in a repository of
// 10,000 flags until both environments' new versions are announced, the
// syncer's loader.Cache warm after the first load (target ≤ 100 ms):
//
//	go test -run '^$' -bench OneFileCommit10k -benchtime 50x ./loader/syncer/
//
// dir: the file replaced in a watched directory (the 10 ms debounce
// excluded; the directory source lstats the paths the notifications name
// and recomputes the revision ID from its last scan). git-webhook: `git push` of the commit plus the webhook,
// the commit itself not timed.
func BenchmarkOneFileCommit10k(b *testing.B) {
	files := largeRepo(10000, "start")
	b.Run("dir/memory", func(b *testing.B) { benchDir(b, store.NewMemory(), files) })
	b.Run("git-webhook/memory", func(b *testing.B) { benchGit(b, store.NewMemory(), files) })
	b.Run("git-webhook/redis", func(b *testing.B) {
		srv := redistest.Start(b)
		st, err := redisstore.New(b.Context(), srv.URL(), redisstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchGit(b, st, files)
	})
}
