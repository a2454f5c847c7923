package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/bearer/admin"
	"github.com/flagpole/flagpole/breaker"
	"github.com/flagpole/flagpole/dashboard"
	"github.com/flagpole/flagpole/internal/surface"
	"github.com/flagpole/flagpole/loader/recorder"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// shutdownGrace is how long a stopping server waits for requests to end.
const shutdownGrace = 5 * time.Second

// common holds the flags every long-running role shares.
type common struct {
	listen    string
	logLevel  string
	logFormat string
}

func (c *common) register(fs *flag.FlagSet, defaultListen string) {
	fs.StringVar(&c.listen, "listen", defaultListen, "HTTP listen address (host:port; :0 picks a free port)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
}

// logger builds the structured logger the flags ask for.
func (c *common) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level (or FLAGPOLE_LOG_LEVEL): %w", err)
	}
	if err := oneOf("--log-format", c.logFormat, "text", "json"); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(stderr, opts)), nil
}

// repoFlags are the flags of the roles that run a syncer.
type repoFlags struct {
	repo          string
	branch        string
	kind          string
	poll          time.Duration
	settle        time.Duration
	cacheDir      string
	sshKey        string
	webhookSecret string
	advertise     string
}

func (r *repoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.repo, "repo", "", "flags repository: a directory, a git repository path, or a git URL (file://, https://, ssh://) (required)")
	fs.StringVar(&r.branch, "branch", "main", "git branch to follow")
	fs.StringVar(&r.kind, "source", "auto", "how to read --repo: dir (watch the files, uncommitted edits included), git (follow --branch), or auto (git for URLs and bare repositories, else dir)")
	fs.DurationVar(&r.poll, "poll", 15*time.Second, "how often to fetch the git remote (with jitter); webhooks fetch at once")
	fs.DurationVar(&r.settle, "settle", 500*time.Millisecond, "directory sources: how long a file written in place must stay unchanged before it is read (files renamed into place are read at once)")
	fs.StringVar(&r.cacheDir, "cache-dir", "", "where to keep the git clone between runs (default: a temporary directory)")
	fs.StringVar(&r.sshKey, "ssh-key", "", "private key file for ssh:// URLs (default: the ssh agent)")
	fs.StringVar(&r.webhookSecret, "webhook-secret", "", "secret of POST /v1/hooks/git (GitHub/Gitea HMAC or GitLab token); without it the webhook is off")
	fs.StringVar(&r.advertise, "advertise", "", "HTTP address (host:port or URL) by which other processes reach this one; the leading syncer records it so that standbys name it in not_leader answers (default: --listen)")
}

// check reports what is wrong with the positional arguments and --repo of
// a role that runs a syncer.
func (r *repoFlags) check(pos []string) error {
	switch {
	case len(pos) > 0:
		return fmt.Errorf("unexpected argument %q (the repository goes in --repo)", pos[0])
	case r.repo == "":
		return errors.New("--repo is required")
	}
	return nil
}

// source opens the repository the flags name. HTTPS tokens come from
// FLAGPOLE_GIT_TOKEN, read by the git source itself.
func (r *repoFlags) source(logger *slog.Logger) (source.Source, error) {
	if r.repo == "" {
		return nil, errors.New("--repo is required")
	}
	if err := oneOf("--source", r.kind, "auto", "dir", "git"); err != nil {
		return nil, err
	}
	gitOpts := source.GitOptions{
		URL: r.repo, Branch: r.branch, CacheDir: r.cacheDir, Poll: r.poll,
		SSHKeyFile: r.sshKey, Logger: logger,
	}
	dirOpts := source.DirOptions{Logger: logger, Settle: r.settle}
	if r.settle == 0 {
		dirOpts.Settle = -1 // --settle 0: none
	}
	switch r.kind {
	case "dir":
		return source.NewDir(r.repo, dirOpts)
	case "git":
		return source.NewGit(gitOpts)
	}
	return source.Open(r.repo, gitOpts, dirOpts)
}

// syncCommand describes a command that runs a syncer (serve, sync).
type syncCommand struct {
	name, usage, listen string
	redisUsage          string
	// redisRequired, when set, is the error for a missing --redis.
	redisRequired error
	// limits, when set, receives the bearer's limit flags (serve).
	limits *limitFlags
	// breakerInterval, when set, receives --breaker-interval (serve).
	breakerInterval *time.Duration
}

// start parses args for cmd and opens its repository and store. On failure
// it returns a nil role and the exit code; the caller closes role.store.
func (cmd syncCommand) start(ctx context.Context, args []string, stderr io.Writer) (role *syncRole, c common, logger *slog.Logger, redisURL string, code int) {
	fs := newFlagSet(cmd.name, cmd.usage, stderr)
	var r repoFlags
	c.register(fs, cmd.listen)
	r.register(fs)
	if cmd.limits != nil {
		cmd.limits.register(fs)
	}
	if cmd.breakerInterval != nil {
		fs.DurationVar(cmd.breakerInterval, "breaker-interval", time.Second, breakerIntervalUsage)
	}
	fs.StringVar(&redisURL, "redis", "", cmd.redisUsage)
	pos, err := parse(fs, args)
	if err == nil {
		err = r.check(pos)
	}
	if err == nil && redisURL == "" && cmd.redisRequired != nil {
		err = cmd.redisRequired
	}
	if err == nil {
		logger, err = c.logger(stderr)
	}
	if err != nil {
		return nil, c, nil, "", usageError(fs, stderr, err)
	}
	ln, err := listen(c.listen)
	if err != nil {
		return nil, c, nil, "", fail(stderr, cmd.name, err)
	}
	if r.advertise == "" {
		r.advertise = ln.Addr().String()
	}
	role, err = r.newSyncRole(ctx, redisURL, logger)
	if err != nil {
		ln.Close()
		return nil, c, nil, "", fail(stderr, cmd.name, err)
	}
	role.ln = ln
	return role, c, logger, redisURL, exitOK
}

// syncRole is a syncer and the store it publishes to: the part that serve
// and sync share.
type syncRole struct {
	src     source.Source
	store   store.Store
	locker  store.Locker
	sy      *syncer.Syncer
	reg     *prometheus.Registry
	webhook http.Handler // nil without --webhook-secret
	ln      net.Listener // bound to --listen
	rec     *recorder.Recorder
	admin   *admin.API
	logger  *slog.Logger
	// repo and branch are --repo and --branch, for the dashboard's git
	// history; ui is the dashboard once newDashboard made it.
	repo, branch string
	ui           *dashboard.Dashboard
	// advertise is --advertise, by default the address --listen bound.
	advertise string
}

// newSyncRole opens the repository and the store (Redis when redisURL is
// set, else memory) and builds a syncer that publishes one to the other.
// The caller closes role.store.
func (r *repoFlags) newSyncRole(ctx context.Context, redisURL string, logger *slog.Logger) (*syncRole, error) {
	src, err := r.source(logger)
	if err != nil {
		return nil, err
	}
	st, locker, err := openStore(ctx, redisURL, logger)
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	ls, ok := st.(roleLayerStore)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store %T has no override layer", st)
	}
	var sy *syncer.Syncer
	rec, err := r.newRecorder(src, ls, func() *syncer.Syncer { return sy }, reg, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	sy, err = syncer.New(syncer.Options{Source: src, Store: st, Locker: locker, Registerer: reg, Logger: logger,
		OnError: rec.SyncError, WhileLeading: func(ctx context.Context) { _ = rec.Run(ctx) }, Advertise: r.advertise})
	if err != nil {
		st.Close()
		return nil, err
	}
	var leading func() bool
	if redisURL != "" {
		leading = sy.Leading
	}
	api, err := newRoleAdmin(ls, rec, leading, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &syncRole{src: src, store: st, locker: locker, sy: sy, reg: reg, webhook: r.webhook(sy.Trigger), rec: rec, admin: api, logger: logger, repo: r.repo, branch: r.branch, advertise: r.advertise}, nil
}

// handler is the HTTP surface of a role that runs a syncer, with b's SDK
// API when b is not nil and brk's decisions in the status when brk is not
// nil.
func (role *syncRole) handler(b *bearer.Server, brk *breaker.Runner) http.Handler {
	o := surface.Options{Syncer: role.sy, Store: role.store, Gatherer: role.reg, Webhook: role.webhook,
		Admin: role.admin, AdminAPI: true,
		StatusExtra:  withBreakers(roleStatusExtra(role.admin, role.rec, role.logger), brk),
		StatusDetail: statusBearers(role.admin, role.store, role.logger)}
	if b != nil {
		o.Bearer = b
	}
	if role.ui != nil {
		o.UI = role.ui.Handler()
	}
	return surface.Handler(o)
}

// webhook returns the git push webhook handler, or nil without a secret.
func (r *repoFlags) webhook(trigger func()) http.Handler {
	if r.webhookSecret == "" {
		return nil
	}
	return syncer.NewWebhookHandler(syncer.WebhookOptions{
		Secret: []byte(r.webhookSecret), Trigger: trigger, Branch: r.branch,
	})
}

// metricsOf returns where st keeps outcome counts (both stores do), or nil,
// which leaves POST /v1/metrics unmounted.
func metricsOf(st store.Store) store.Metrics {
	m, _ := st.(store.Metrics)
	return m
}

// openStore returns the Redis store for url, or the in-memory store when url
// is empty, with the matching leader locker.
func openStore(ctx context.Context, url string, logger *slog.Logger) (store.Store, store.Locker, error) {
	if url == "" {
		return store.NewMemory(), store.NewMemoryLocker(), nil
	}
	redisstore.RouteLogs(logger)
	rs, err := redisstore.New(ctx, url, redisstore.Options{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	return rs, rs, nil
}

// newRegistry returns a metrics registry with the Go runtime and process
// collectors, shared by every part of one process.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// listen binds addr (":0" picks a free port), so that the address is
// known (to advertise) before anything starts.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: bearer.DefaultIdleTimeout}
	return serveOn(ctx, ln, srv, nil, logger)
}

// serveBearer serves h (b's API when h is nil) on ln with b's timeouts
// and connection limits until ctx is done, then shuts down gracefully.
func serveBearer(ctx context.Context, ln net.Listener, b *bearer.Server, h http.Handler, logger *slog.Logger) error {
	srv := b.HTTPServer()
	if h != nil {
		srv.Handler = h
	}
	return serveOn(ctx, ln, srv, b.Listener, logger)
}

// serveOn serves srv on ln, through wrap(ln) when wrap is not nil. It logs
// the address actually bound (which differs from --listen for ":0").
func serveOn(ctx context.Context, ln net.Listener, srv *http.Server, wrap func(net.Listener) net.Listener, logger *slog.Logger) error {
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Streams that outlive the grace period are cut.
		_ = srv.Close()
	}
	return nil
}
