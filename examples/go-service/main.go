// Command go-service is a small HTTP service that picks its behaviour per
// request with Flagpole flags, evaluated locally by the Go SDK on the rule
// set it streams from a bearer, and logs every change of the flags.
//
//	go run ./examples/go-service --url http://127.0.0.1:8080 --key fp_srv_prod_...
//	curl 'http://127.0.0.1:8081/checkout?user=audrey&plan=pro&country=US'
//
// With --openfeature the checkout flag is evaluated through the OpenFeature
// API and the Flagpole provider instead of the SDK directly. With --offline
// and --bootstrap ./flags.example --env production it runs without a
// bearer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/fromrepo"
	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-service:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", envOr("FLAGPOLE_URL", "http://127.0.0.1:8080"), "bearer base URL (FLAGPOLE_URL)")
	key := flag.String("key", os.Getenv("FLAGPOLE_KEY"), "server SDK key (FLAGPOLE_KEY)")
	listen := flag.String("listen", "127.0.0.1:8081", "address this service listens on")
	bootstrap := flag.String("bootstrap", "", "snapshot file or flags repository served until the bearer answers")
	env := flag.String("env", "", "environment to take from a --bootstrap repository")
	offline := flag.Bool("offline", false, "never contact a bearer; serve --bootstrap only")
	useOF := flag.Bool("openfeature", false, "evaluate checkout-v2 through the OpenFeature API")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := sdk.Options{
		URL: *url, Key: *key, Environment: *env, Offline: *offline,
		Logger: log.With("component", "flagpole"),
	}
	if err := setBootstrap(&opts, *bootstrap); err != nil {
		return err
	}
	client, err := sdk.New(ctx, opts)
	if err != nil {
		return err
	}
	defer client.Close()
	defer client.Subscribe(func(c sdk.Change) {
		log.Info("flags changed", "version", c.Version, "flags", c.Flags)
	})()
	defer client.WatchState(func(s sdk.StateChange) {
		log.Info("flag client state", "from", s.From.String(), "to", s.To.String(), "err", s.Err)
	})()

	svc := &service{flags: client, log: log}
	if *useOF {
		if err := of.SetProviderWithContextAndWait(ctx, flagpoleof.NewProvider(client)); err != nil {
			log.Warn("OpenFeature provider not ready yet; serving defaults until it is", "err", err)
		}
		defer of.Shutdown()
		svc.of = of.NewClient("go-service")
	}
	return serve(ctx, *listen, svc.routes(), log)
}

// setBootstrap points opts at path: a snapshot file goes to the SDK as is; a
// flags repository directory is loaded and validated by sdk/fromrepo, the
// package that links the YAML and JSON Schema code the SDK itself does not.
func setBootstrap(opts *sdk.Options, path string) error {
	if path == "" {
		return nil
	}
	if info, err := os.Stat(path); err != nil || !info.IsDir() {
		opts.Bootstrap = path // the SDK reports a missing file itself
		return nil
	}
	doc, err := fromrepo.Document(path, opts.Environment)
	if err != nil {
		return err
	}
	opts.BootstrapDocument = doc
	return nil
}

// serve runs the HTTP server until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("go-service listening", "addr", addr)
	select {
	case err := <-errc:
		return fmt.Errorf("listening on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
