package loader_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

func ExampleLoad() {
	now := func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }
	repo, err := loader.Load("../flags.example", loader.Options{Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(repo.Settings.Environments)
	r := repo.RuleSets["production"].Evaluate("west-coast-student-banner", ruleset.Context{"key": "juan"})
	fmt.Println(r.Variant, r.Reason, r.RuleName)
	// Output:
	// [production staging]
	// on SPLIT everyone else
}

func ExampleDiagnostics() {
	_, err := loader.Load("testdata/unknown-variant.bad", loader.Options{})
	var ds loader.Diagnostics
	if errors.As(err, &ds) {
		for _, d := range ds {
			fmt.Printf("%s line %d: %s\n", d.File, d.Line, d.Message)
		}
	}
	// Output:
	// flags/banner.yaml line 2: unknown variant "of" (variants: on, off)
	// flags/banner.yaml line 3: unknown variant "yes" (variants: on, off)
	// flags/banner.yaml line 6: unknown variant "onn" (variants: on, off)
	// flags/banner.yaml line 7: unknown variant "of" (variants: on, off)
}
