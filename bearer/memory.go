package bearer

import (
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"

	"github.com/flagpole/flagpole/store"
)

// A bearer's memory is mostly the rule sets it holds, which at 100,000
// flags per environment are hundreds of megabytes of long-lived heap. With
// Go's default GOGC of 100 the heap may grow to twice the live heap before
// a collection, and a cold load (the compressed snapshot, its JSON, the
// decoder's garbage) leaves pages the runtime keeps: a bearer holding two
// environments of 100,000 flags measured 0.9–1.4 GiB RSS for about
// 0.45 GiB of live heap (BENCHMARKS.md, Scale). So after a load that read
// a whole snapshot the bearer returns free memory to the system and sizes
// the collector's headroom in bytes rather than as a multiple of the rule
// sets: GC percent = gcHeadroom / live heap, between minGCPercent and 100.
// A GOGC set in the environment is left alone.

const (
	// gcHeadroom is the heap growth allowed between collections once the
	// live heap is large. An edit that the store patches costs a bearer
	// about 10 MB of garbage per 100,000-flag environment (the new maps of
	// its Document, rule set and index), so this is mostly room for
	// requests' garbage; it was 128 MiB when every edit rebuilt them all.
	gcHeadroom = 96 << 20
	// minGCPercent bounds how often the collector runs on a huge heap.
	minGCPercent = 25
)

// sharesFlags reports whether b was built from a by patches: some flag of
// b is the very flag a holds. A snapshot read whole shares nothing.
func sharesFlags(a, b *store.Snapshot) bool {
	if a == nil || b == nil || a.Document == nil || b.Document == nil {
		return false
	}
	if a.Document.Flags.Len() == 0 || b.Document.Flags.Len() == 0 {
		return true // nothing to tell, and nothing large
	}
	checked := 0
	for k, f := range a.Document.Flags.All() {
		if b.Document.Flags.Get(k) == f {
			return true
		}
		if checked++; checked == 8 {
			break
		}
	}
	return false
}

// afterWholeReads returns free memory to the system and sets the GC
// percent from the live heap, when a load since the last call read a
// whole snapshot. Only the loader goroutine calls it.
func (s *Server) afterWholeReads() {
	n := s.wholeReads.Load()
	if n == s.wholeReadsSeen {
		return
	}
	s.wholeReadsSeen = n
	debug.FreeOSMemory() // collects, then returns what is free
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(sample)
	if sample[0].Value.Kind() != rtmetrics.KindUint64 {
		return
	}
	live := sample[0].Value.Uint64()
	pct := 100
	if live > 0 {
		pct = int(min(uint64(100), max(uint64(minGCPercent), gcHeadroom*100/live)))
	}
	if old := debug.SetGCPercent(pct); old != pct {
		s.log.Info("sized the garbage collector's headroom to the rule sets held", "live_heap_mib", live>>20, "gc_percent", pct)
	}
}
