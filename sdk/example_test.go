package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/flagpole/flagpole/sdk"
)

// A client that starts from a snapshot file and never contacts a bearer,
// as in tests or air-gapped runs. With a URL and a Key instead of Offline,
// the same client streams the rule set from a bearer.
func ExampleNew_offline() {
	client, err := sdk.New(context.Background(), sdk.Options{
		Offline:   true,
		Bootstrap: "testdata/snapshot.json",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	user := sdk.Context{"key": "audrey"}
	fmt.Println(client.Bool("checkout-v2", user, false))
	fmt.Println(client.String("banner-text", user, "Welcome"))
	fmt.Println(client.Int("max-items", user, 25))

	d := client.BoolDetail("checkout-v2", sdk.Context{"key": "someone-else"}, false)
	fmt.Println(d.Value, d.Variant, d.Reason)

	miss := client.StringDetail("checkout-v2", user, "fallback")
	fmt.Println(miss.Value, miss.Reason, miss.ErrorCode)
	// Output:
	// true
	// 20% off today
	// 10
	// false off DEFAULT
	// fallback ERROR TYPE_MISMATCH
}

// Guard serves the new code path to users the flag is on for, and the old
// one to the others and whenever the new one fails. With a bearer (not
// Offline) each run of the new path is also reported to the breaker.
func ExampleGuard() {
	client, err := sdk.New(context.Background(), sdk.Options{Offline: true, Bootstrap: "testdata/snapshot.json"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	checkout := func(user string, v2Fails bool) {
		total, err := sdk.Guard(client, context.Background(), "checkout-v2", sdk.Context{"key": user},
			func(context.Context) (string, error) {
				if v2Fails {
					return "", errors.New("payment service v2 unavailable")
				}
				return "v2: 42.00", nil
			},
			func(context.Context) (string, error) { return "v1: 42.00", nil })
		fmt.Println(user, total, err)
	}
	checkout("audrey", false) // on for audrey
	checkout("audrey", true)  // v2 fails: v1 serves, the failure is recorded
	checkout("someone-else", false)
	// Output:
	// audrey v2: 42.00 <nil>
	// audrey v1: 42.00 <nil>
	// someone-else v1: 42.00 <nil>
}
