package flagtest

import (
	"testing"

	"github.com/flagpole/flagpole/loader"
)

// BenchmarkRunExample runs flags.example's own tests (9 case runs, one a
// sample of 10,000 contexts): the cost of `flagpole test` beyond loading.
func BenchmarkRunExample(b *testing.B) {
	repo, err := loader.Load("../flags.example", loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	files, diags, err := loader.LoadTests("../flags.example", repo, loader.Options{})
	if err != nil || diags.HasErrors() {
		b.Fatal(diags, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Run(repo, files, Options{})
		if err != nil || len(rep.Failed()) != 0 {
			b.Fatal(err, rep.Failed())
		}
	}
}

// BenchmarkSampleMax evaluates the largest sample a case may have,
// 100,000 generated contexts.
func BenchmarkSampleMax(b *testing.B) {
	repo, err := loader.Load("../flags.example", loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tf := &loader.TestFile{File: "tests/bench.yaml", Flag: "west-coast-student-banner", Environments: []string{"production"},
		Cases: []loader.TestCase{{Sample: &loader.TestSample{Contexts: loader.MaxSampleContexts, By: "key", ByType: "string"},
			Context: map[string]any{"state": "NY"},
			Expect:  loader.TestExpect{Share: []loader.TestShare{{Variant: "on", Percent: 25}}, Tolerance: 1}}}}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Run(repo, []*loader.TestFile{tf}, Options{})
		if err != nil || len(rep.Failed()) != 0 {
			b.Fatal(err, rep.Failed())
		}
	}
}
