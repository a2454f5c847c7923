package sdk

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/ruleset"
)

// A client tells its subscribers when a schedule step passes on its own
// clock, with nothing from a bearer (here: offline, on a bootstrap), and
// evaluation follows the step.
func TestClockChangeNotifies(t *testing.T) {
	step := time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(step.Add(-time.Hour))
	on := true
	doc := &ruleset.Document{Version: "v1", Environment: "production", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{
		"holiday": {Key: "holiday", Type: ruleset.TypeBoolean, Off: "off", Default: "on",
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}},
			Schedule: []ruleset.ScheduleStep{{At: step, Enabled: &on}}},
		"plain": {Key: "plain", Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: "on",
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}},
	})}
	c, err := New(context.Background(), Options{Offline: true, BootstrapDocument: doc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	changes := make(chan Change, 4)
	c.Subscribe(func(ch Change) { changes <- ch })
	if c.Bool("holiday", Context{"key": "u"}, true) {
		t.Fatal("on before the step")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil { // the clock loop's timer
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	select {
	case ch := <-changes:
		if !ch.Clock || ch.Version != "v1" || len(ch.Flags) != 1 || ch.Flags[0] != "holiday" {
			t.Errorf("change %+v, want a clock change of holiday", ch)
		}
	case <-ctx.Done():
		t.Fatal("no change when the step passed")
	}
	if !c.Bool("holiday", Context{"key": "u"}, false) {
		t.Error("off after the step")
	}
}
