package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

// BenchmarkLoad10kOneFile measures the load that follows a one-file commit
// in a repository of 10,000 flags and 1,000 audiences, with a warm Cache:
// one flag file changes between loads, back and forth. lstat: each load
// lstats every file (a load without a scan); scan: each load is handed
// the directory source's scan (Cache.UseScan), as the syncer's are.
func BenchmarkLoad10kOneFile(b *testing.B) {
	b.Run("lstat", func(b *testing.B) { benchLoadOneFile(b, 10000, false) })
	b.Run("scan", func(b *testing.B) { benchLoadOneFile(b, 10000, true) })
}

// benchLoadOneFile measures one-file loads with a warm Cache in a
// repository of nFlags flags and 1,000 audiences.
func benchLoadOneFile(b *testing.B, nFlags int, scanned bool) {
	dir := b.TempDir()
	generateRepo(b, dir, nFlags, 1000)
	cache := NewCache()
	// As the syncer loads: with a revision, so that files unchanged by
	// their metadata are not read. Files written less than fstat.Margin
	// before a load are read again at the next, so load once more after it.
	opts := Options{Cache: cache, Revision: "r1"}
	if _, err := Load(dir, opts); err != nil {
		b.Fatalf("%.2000v", err)
	}
	time.Sleep(fstat.Margin)
	if _, err := Load(dir, opts); err != nil {
		b.Fatalf("%.2000v", err)
	}
	p := filepath.Join(dir, "flags", "flag-00042.yaml")
	orig, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0, haveCPU := cpuTime()
	n := 0
	for b.Loop() {
		data := orig
		if n%2 == 0 {
			data = fmt.Appendf(append([]byte(nil), orig...), "description: edit %d\n", n)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		if scanned {
			// As the syncer loads from a directory source: with its scan
			// (taken here outside the timer, as the source's own cost).
			b.StopTimer()
			cache.UseScan(scanFiles(b, dir))
			b.StartTimer()
		}
		if _, err := Load(dir, opts); err != nil {
			b.Fatalf("%.2000v", err)
		}
		n++
	}
	if cpu1, ok := cpuTime(); ok && haveCPU && n > 0 && !scanned { // the scan's CPU is not the load's
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(n), "cpu-s/op")
	}
	if st := cache.Stats(); st.LastParsed != 1 {
		b.Fatalf("last load parsed %d files, want 1", st.LastParsed)
	}
	b.ReportMetric(float64(cache.unread)/float64(n+1), "unread-files/op")
}
