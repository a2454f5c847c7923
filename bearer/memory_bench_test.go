//go:build linux

package bearer

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
	"weak"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// bigDoc is a Document of n flags: a third static, a third with an allow
// list and a rollout, a third string flags with a condition.
func bigDoc(n int) *ruleset.Document {
	flags := ruleset.NewFlagMapBuilder(n)
	for i := range n {
		k := fmt.Sprintf("flag-%06d", i)
		f := &ruleset.Flag{Key: k, Name: "Flag " + k, Owner: "team", Type: ruleset.TypeBoolean, Client: i%2 == 0,
			Variants: boolVariants(), Enabled: true, Off: "off", Default: "off"}
		switch i % 3 {
		case 1:
			f.Rules = []ruleset.Rule{{Users: []string{"u1", "u2"}, Serve: "on"},
				{Rollout: []ruleset.Weight{{Variant: "on", Weight: 25000}, {Variant: "off", Weight: 75000}}, By: "key"}}
		case 2:
			f.Type, f.Off, f.Default = ruleset.TypeString, "a", "a"
			f.Variants = []ruleset.Variant{{Name: "a", Value: json.RawMessage(`"layout-a"`)}, {Name: "b", Value: json.RawMessage(`"layout-b"`)}}
			f.Rules = []ruleset.Rule{{Conditions: []ruleset.Condition{{Attribute: "plan", Type: ruleset.AttrString,
				Operator: ruleset.OpIn, Values: []json.RawMessage{json.RawMessage(`"pro"`), json.RawMessage(`"enterprise"`)}}}, Serve: "b"}}
		}
		flags.Set(k, f)
	}
	return &ruleset.Document{Version: "v1", Environment: "production", Flags: flags.FlagMap()}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkEnvStateMemory100k measures what a bearer holds for an
// environment of 100,000 flags: the Document decoded from the store's
// JSON, its compiled rule set and encodings, then with the put event
// encoded (an SSE client connected), then with a second version built from
// a one-flag patch (both live while streams move over). json-MiB is the
// size of the Document's JSON, which the bearer used to hold twice per
// version whether or not a client asked for it.
//
//	go test -run '^$' -bench EnvStateMemory100k -benchtime 1x ./bearer
func BenchmarkEnvStateMemory100k(b *testing.B) {
	for b.Loop() {
		raw, err := json.Marshal(snapshot(bigDoc(100000)))
		if err != nil {
			b.Fatal(err)
		}
		base := heapInUse()
		var snap store.Snapshot
		if err := json.Unmarshal(raw, &snap); err != nil {
			b.Fatal(err)
		}
		docOnly := heapInUse() - base
		st, err := newEnvState(&snap, time.Now, nil)
		if err != nil {
			b.Fatal(err)
		}
		built := heapInUse() - base
		frame, err := st.putFrame()
		if err != nil {
			b.Fatal(err)
		}
		withPut := heapInUse() - base
		if p := os.Getenv("FLAGPOLE_HEAP_PROFILE"); p != "" { // what the state holds, by allocation site
			if f, err := os.Create(p); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		f := *snap.Document.Flags.Get("flag-000001")
		f.Description = "changed"
		doc2, err := snap.Document.Apply(&ruleset.Patch{Base: "v1", Version: "v2", Flags: map[string]*ruleset.Flag{f.Key: &f}})
		if err != nil {
			b.Fatal(err)
		}
		snap2 := snap
		snap2.Version, snap2.Document = "v2", doc2
		st2, err := newEnvState(&snap2, time.Now, st)
		if err != nil {
			b.Fatal(err)
		}
		both := heapInUse() - base
		runtime.KeepAlive(st)
		runtime.KeepAlive(st2)
		mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
		b.ReportMetric(mib(docOnly), "doc-MiB")
		b.ReportMetric(mib(built), "state-MiB")
		b.ReportMetric(mib(withPut), "with-put-MiB")
		b.ReportMetric(mib(both), "two-versions-MiB")
		b.ReportMetric(mib(uint64(len(frame))), "json-MiB")
	}
}

// BenchmarkEnvStatePatch100k measures what a bearer does per edit in an
// environment of 100,000 flags: apply a one-flag patch to the Document,
// build the next state from the last and diff the two for the streams.
// named: the snapshot says which flags the patch changed, as
// redisstore's SnapshotSince does (CompileChanged, the index patched,
// DiffNamed); unnamed: it does not (CompileFrom and Diff walk every flag).
//
//	go test -run '^$' -bench EnvStatePatch100k -benchtime 20x ./bearer
func BenchmarkEnvStatePatch100k(b *testing.B) {
	for _, named := range []bool{true, false} {
		b.Run(map[bool]string{true: "named", false: "unnamed"}[named], func(b *testing.B) {
			snap := snapshot(bigDoc(100000))
			st, err := newEnvState(snap, time.Now, nil)
			if err != nil {
				b.Fatal(err)
			}
			st.raw = snap
			n := 0
			for b.Loop() {
				n++
				f := *snap.Document.Flags.Get("flag-000001")
				f.Description = fmt.Sprint("changed ", n)
				version := fmt.Sprint("v", n+1)
				doc, err := snap.Document.Apply(&ruleset.Patch{Base: snap.Version, Version: version, Flags: map[string]*ruleset.Flag{f.Key: &f}})
				if err != nil {
					b.Fatal(err)
				}
				next := *snap
				next.Version, next.Document, next.Change = version, doc, nil
				if named {
					next.Change = &ruleset.Change{Base: weak.Make(snap.Document), Flags: []string{f.Key}}
				}
				old := st
				if st, err = newEnvState(&next, time.Now, st); err != nil {
					b.Fatal(err)
				}
				st.raw = &next
				if p := st.change.Diff(old.doc, st.doc); len(p.Flags) != 1 {
					b.Fatalf("patch of %d flags", len(p.Flags))
				}
				snap = &next
			}
		})
	}
}
