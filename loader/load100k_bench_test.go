//go:build linux

package loader

import (
	"runtime"
	"syscall"
	"testing"
)

// BenchmarkLoad100k measures a full load of 100,000 flags and 1,000
// audiences (the mix of generateRepo) and reports the process's peak RSS
// (ru_maxrss, which includes writing the repository). Target: ≤ 15 s and
// ≤ 2 GiB. Run it alone, once:
//
//	go test -run '^$' -bench 'Load100k$' -benchtime 1x ./loader
func BenchmarkLoad100k(b *testing.B) {
	dir := b.TempDir()
	generateRepo(b, dir, 100000, 1000)
	runtime.GC()
	b.ResetTimer()
	cpu0, haveCPU := cpuTime()
	n := 0
	for b.Loop() {
		repo, err := Load(dir, Options{})
		if err != nil {
			b.Fatalf("%.2000v", err)
		}
		if repo.Documents["production"].Flags.Len() != 100000 {
			b.Fatal("flags missing")
		}
		n++
	}
	if cpu1, ok := cpuTime(); ok && haveCPU && n > 0 {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(n), "cpu-s/op")
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MiB") // Linux: KiB
	}
}

// BenchmarkLoad100kOneFile is BenchmarkLoad10kOneFile/scan at 100,000
// flags: the syncer's load after a one-file commit, which should cost in
// proportion to the change. Its setup (writing the repository, two cold
// loads, a scan per load outside the timer) takes about a minute:
//
//	go test -run '^$' -bench Load100kOneFile -benchtime 10x ./loader
func BenchmarkLoad100kOneFile(b *testing.B) { benchLoadOneFile(b, 100000, true) }
