package redact_test

import (
	"fmt"

	"github.com/flagpole/flagpole/internal/redact"
)

func ExampleURL() {
	fmt.Println(redact.URL("https://x-access-token:ghp_secret@github.com/org/flags.git"))
	fmt.Println(redact.URL("https://ghp_secret@github.com/org/flags.git"))
	fmt.Println(redact.URL("git@github.com:org/flags.git"))
	fmt.Println(redact.URL("redis://:s3cr3t@127.0.0.1:6379/0"))
	// Output:
	// https://x-access-token:xxxxx@github.com/org/flags.git
	// https://xxxxx@github.com/org/flags.git
	// git@github.com:org/flags.git
	// redis://:xxxxx@127.0.0.1:6379/0
}

func ExampleText() {
	raw := "https://bot:ghp_secret@github.com/org/flags.git"
	err := fmt.Errorf("fetching %s: authentication failed for ghp_secret", raw)
	fmt.Println(redact.Text(err.Error(), raw))
	// Output:
	// fetching https://bot:xxxxx@github.com/org/flags.git: authentication failed for xxxxx
}
