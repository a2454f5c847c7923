package loader

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// onCPUs runs items 0..n-1 on one goroutine per CPU. Each goroutine calls
// newWorker once and gives every item it takes to the function it got, so
// that a worker can keep state of its own. Workers take the next item from
// a counter: at 10,000 files of which most are only stat'ed, handing each
// over a channel cost as much as the stat.
func onCPUs(n int, newWorker func() func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			do := newWorker()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				do(i)
			}
		})
	}
	wg.Wait()
}
