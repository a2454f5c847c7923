package source_test

import (
	"fmt"

	"github.com/flagpole/flagpole/loader/source"
)

func ExampleRedact() {
	fmt.Println(source.Redact("https://x-access-token:ghp_secret@github.com/org/flags.git"))
	fmt.Println(source.Redact("https://ghp_secret@github.com/org/flags.git"))
	fmt.Println(source.Redact("git@github.com:org/flags.git"))
	// Output:
	// https://x-access-token:xxxxx@github.com/org/flags.git
	// https://xxxxx@github.com/org/flags.git
	// git@github.com:org/flags.git
}
