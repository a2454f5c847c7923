package sdk_test

import (
	"context"
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
