package bearer

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Demo keys of flags.example (flags.example/DEMO-KEYS.md).
const (
	demoServerKey  = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"
	demoClientKey  = "fp_cli_prod_9696b5d062735734a36c80b60533b635"
	demoStagingKey = "fp_cli_stg_ff077c0eaf551b1f84e914803c86af91"
)

// TestExampleRepository serves flags.example as the syncer would publish it
// and checks that the bearer's evaluations agree with the rule set's own.
func TestExampleRepository(t *testing.T) {
	repo, err := loader.Load("../flags.example", loader.Options{})
	if err != nil {
		t.Fatalf("loading flags.example: %v", err)
	}
	f := newFixture(t, Options{})
	for env, doc := range repo.Documents {
		f.publishSnap(&store.Snapshot{Environment: env, Version: doc.Version, Document: doc, Keys: repo.Settings.Keys, Published: time.Now()})
		f.waitVersion(env, doc.Version)
	}
	contexts := []string{
		`{"key":"juan","state":"CA","student":true,"age":20}`,
		`{"key":"audrey"}`,
		`{"key":"user-1","state":"NY","app_version":"2.3.0"}`,
		`{}`,
	}
	tests := []struct {
		name, key, env string
		clientOnly     bool
	}{
		{"production server key", demoServerKey, "production", false},
		{"production client key", demoClientKey, "production", true},
		{"staging client key", demoStagingKey, "staging", true},
	}
	for _, tt := range tests {
		for _, c := range contexts {
			t.Run(tt.name+" "+c, func(t *testing.T) {
				status, _, body := f.do("POST", "/v1/evaluate", tt.key, ctxBody(c))
				if status != 200 {
					t.Fatalf("status %d: %s", status, body)
				}
				got := decode[evalResponse](t, body)
				doc := repo.Documents[tt.env]
				ctx, err := ruleset.ParseContext([]byte(c))
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for key, fl := range doc.Flags.All() {
					if tt.clientOnly && !fl.Client {
						if _, ok := got.Flags[key]; ok {
							t.Errorf("client key sees server flag %s", key)
						}
						continue
					}
					want++
					r := repo.RuleSets[tt.env].Evaluate(key, ctx)
					if g := got.Flags[key]; g.Variant != r.Variant || g.Reason != r.Reason.String() {
						t.Errorf("flag %s: bearer %s/%s, rule set %s/%s", key, g.Variant, g.Reason, r.Variant, r.Reason)
					}
				}
				if len(got.Flags) != want || want == 0 {
					t.Errorf("%d flags, want %d", len(got.Flags), want)
				}
			})
		}
	}
}
