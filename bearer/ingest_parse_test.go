package bearer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzFastBatch checks that whatever the fast decoder of POST /v1/metrics
// takes, encoding/json decodes to the same entries.
func FuzzFastBatch(f *testing.F) {
	for _, s := range []string{
		`{"counts":[]}`,
		`{"counts":[{"flag":"a","variant":"on","success":1,"failure":0,"slow":0}]}`,
		` { "counts" : [ { "flag" : "a" } , {"success":-1} ] } `,
		`{"counts":[{"flag":"a","flag":"b"}]}`,
		`{"counts":[{"FLAG":"a"}]}`,
		`{"counts":[{"flag":"a\"b"}]}`,
		`{"counts":[{"success":01}]}`,
		`{"counts":[{"success":1.5}]}`,
		`{"counts":[{"success":1e3}]}`,
		`{"counts":[{"flag":"ü"}]}`,
		`{"counts":[{}]}{}`,
		`{"counts":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastBatch(body)
		if !ok {
			return
		}
		var slow metricsBatch
		if rerr := decodeBatch(body, &slow); rerr != nil {
			t.Fatalf("fast decoder took %q, encoding/json refused it: %s", body, rerr.msg)
		}
		if len(fast) != len(slow.Counts) {
			t.Fatalf("%q: %d entries fast, %d by encoding/json", body, len(fast), len(slow.Counts))
		}
		for i := range fast {
			a, b := fast[i], slow.Counts[i]
			for _, p := range [][2]json.RawMessage{{a.Flag, b.Flag}, {a.Variant, b.Variant}, {a.Success, b.Success}, {a.Failure, b.Failure}, {a.Slow, b.Slow}} {
				if !bytes.Equal(p[0], p[1]) || (p[0] == nil) != (p[1] == nil) {
					t.Fatalf("%q: entry %d: fast %s, encoding/json %s", body, i, show(a), show(b))
				}
			}
		}
	})
}

func show(e metricsEntry) string {
	return fmt.Sprintf("{flag %q variant %q success %q failure %q slow %q}", e.Flag, e.Variant, e.Success, e.Failure, e.Slow)
}
