// Command breaker-demo shows the circuit breaker turning a flag off when
// the code path it guards fails, and ramping it back once it works again.
//
// As a service it answers GET /recommend?user=U through sdk.Guard on the
// flag recommendations-v2 of flags.example (--flag names another): the new path (v2) when the flag
// is on for U, the old one (v1) when it is off or when v2 fails. POST
// /fail?on=true makes v2 fail; on=false mends it. Outcomes reach the
// breaker through the SDK's POST /v1/metrics.
//
//	go run ./examples/breaker-demo --url http://127.0.0.1:8080 --key fp_srv_prod_...
//
// With --load it is the load loop instead: it calls a running demo service
// --rate times a second and prints, each second, what was served and how
// often the new path failed.
//
//	go run ./examples/breaker-demo --load http://127.0.0.1:8082
//
// See README.md for the whole walk-through.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/flagpole/flagpole/sdk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "breaker-demo:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "http://127.0.0.1:8080", "bearer base URL")
	key := flag.String("key", os.Getenv("FLAGPOLE_KEY"), "server SDK key (FLAGPOLE_KEY)")
	listen := flag.String("listen", "127.0.0.1:8082", "address the demo service listens on")
	load := flag.String("load", "", "run the load loop against this demo service URL instead of serving")
	rate := flag.Int("rate", 50, "calls a second of the load loop")
	users := flag.Int("users", 1000, "distinct users the load loop cycles through")
	guarded := flag.String("flag", flagKey, "the boolean flag that guards the new path")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *load != "" {
		if *rate < 1 || *users < 1 {
			return errors.New("--rate and --users must be at least 1")
		}
		newLoadLoop(*load, *users).run(ctx, *rate, os.Stdout)
		return nil
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	client, err := sdk.New(ctx, sdk.Options{URL: *url, Key: *key, Logger: log})
	if err != nil {
		return err
	}
	defer client.Close() // sends the outcomes not yet reported
	defer client.Subscribe(func(c sdk.Change) {
		if slices.Contains(c.Flags, *guarded) {
			r := client.BoolDetail(*guarded, sdk.Context{"key": "user-0"}, false)
			log.Info("flag changed", "flag", *guarded, "version", c.Version, "user-0", r.Value, "reason", r.Reason.String())
		}
	})()

	log.Info("breaker-demo listening", "addr", *listen, "flag", *guarded)
	return listenAndServe(ctx, *listen, (&service{flags: client, flag: *guarded}).routes())
}
