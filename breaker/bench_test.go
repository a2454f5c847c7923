package breaker

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// BenchmarkDecide1000 is the pure decision for 1,000 flags, a third of
// them closed, tripping or recovering.
func BenchmarkDecide1000(b *testing.B) {
	s := settings5()
	ins := make([]Input, 1000)
	for i := range ins {
		in := Input{Flag: fmt.Sprintf("flag-%04d", i), Environment: "production", Off: "off", Settings: s,
			Counts: store.Counts{Success: 3000, Failure: int64(i % 300)}, Now: t0.Add(7 * time.Minute)}
		if i%3 == 2 {
			in.Override = tripped(t0)
		}
		ins[i] = in
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range ins {
			_ = Decide(ins[i])
		}
	}
}

// BenchmarkTick1000 is one Runner tick over 1,000 flags with breakers in
// one environment of a memory store: snapshot, layer, one WindowCounts
// (the memory store's), 1,000 decisions and their status; no trips.
func BenchmarkTick1000(b *testing.B) {
	vars := []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}
	br := ruleset.Breaker{Window: ruleset.Duration(time.Minute), MinRequests: 100, ErrorRate: 50,
		Recovery: ruleset.RecoveryPolicy{Delay: ruleset.Duration(5 * time.Minute), Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)}}
	d := &ruleset.Document{Version: "v1", Environment: "production", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{})}
	m := newCountingMetrics()
	counts := map[string]store.Counts{}
	for i := range 1000 {
		k := fmt.Sprintf("flag-%04d", i)
		d.Flags = d.Flags.With(map[string]*ruleset.Flag{k: &ruleset.Flag{Key: k, Type: ruleset.TypeBoolean, Variants: vars, Enabled: true, Off: "off", Default: "on", Breaker: &br}})
		counts[k] = store.Counts{Success: 3000, Failure: int64(i)}
	}
	ctx := context.Background()
	st := store.NewMemory()
	if err := st.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v1", Document: d}); err != nil {
		b.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(t0)
	if err := m.AddCounts(ctx, "production", t0, counts); err != nil {
		b.Fatal(err)
	}
	r, err := NewRunner(RunnerOptions{Store: st, Metrics: m, Locker: store.NewMemoryLocker(), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Tick(ctx)
	}
}
