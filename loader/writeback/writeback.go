// Package writeback records runtime overrides in the flags repository: it
// writes overrides/<env>/<flag>.yaml in the repository format (Render) and,
// through a Writer, commits and pushes each set or clear to the branch that
// the syncer follows, so that git stays the source of truth for overrides
// that the store's override layer already serves. Disable, for the
// breaker's on_trip: commit, edits the flag file instead: enabled: false in
// one environment's overlay of flags/<flag>.yaml.
//
// A Writer queues writes and returns at once; one worker commits them with
// the configured author, pushes without force, and after a rejected push
// or an unreachable remote fetches again and retries with backoff until the
// write lands. Only the leader (the breaker's or the admin API's) may run
// a Writer for a repository; the caller guarantees that.
package writeback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// Action is what a write does to an override file.
type Action int

// Actions.
const (
	// ActionSet creates or replaces the override file.
	ActionSet Action = iota + 1
	// ActionClear removes it.
	ActionClear
	// ActionDisable sets enabled: false in the environment's overlay of
	// the flag file (flags/<flag>.yaml), as read at the fetched head.
	ActionDisable
)

// String is "set" or "clear".
func (a Action) String() string {
	switch a {
	case ActionSet:
		return "set"
	case ActionClear:
		return "clear"
	case ActionDisable:
		return "disable"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// MarshalText encodes a as its String, for JSON status documents.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Default author of write-back commits, as in flagpole.yaml's writeback.
const (
	DefaultAuthorName  = "flagpole"
	DefaultAuthorEmail = "flagpole@localhost"
)

// DefaultBackoff is the retry schedule when Options.Backoff is zero: 1 s
// doubling to 15 s, each delay jittered in [ceiling/2, ceiling]. The
// ceiling is the git poll interval's: a pending override lands within
// about 15 s of the remote coming back, and one fetch every 15 s costs a
// down remote nothing.
var DefaultBackoff = backoff.Policy{Min: time.Second, Max: 15 * time.Second}

// Options configures a Writer. Set Remote or Clone (git mode) or Dir
// (directory mode); everything else has a default.
type Options struct {
	// Clone is the local clone to commit in and push from; it may be the
	// git source's own clone. Default: a clone of Remote.
	Clone *gitx.Clone
	// Remote is the repository to write to when Clone is nil: the Writer
	// opens a clone of it under CacheDir (default: a temporary directory)
	// and Close closes it. When Clone is set, Remote is optional and only
	// scrubs errors once more.
	Remote   *gitx.Remote
	CacheDir string
	// Dir is a plain directory repository (no git): writes create, replace
	// or remove the file there and commit nothing. Used when neither
	// Clone nor Remote is set.
	Dir string
	// Branch is the branch to commit to (flagpole.yaml writeback.branch).
	// Default: "main", the syncer's default; pass the synced branch when
	// flagpole.yaml leaves it empty.
	Branch string
	// Author signs the commits (flagpole.yaml writeback.author). Default:
	// flagpole <flagpole@localhost>; an empty email alone takes the default
	// email.
	Author loader.Author
	// Clock times commits, pending writes and retries. Default: the real
	// clock.
	Clock clockwork.Clock
	// Backoff is the schedule of retries after a failed attempt (remote
	// unreachable, push rejected). Zero Min and Max: DefaultBackoff.
	Backoff backoff.Policy
	// Logger hears of landed writes and failed attempts. Default: discard.
	Logger *slog.Logger
	// Registerer receives flagpole_writeback_pending (a gauge of pending
	// writes) and flagpole_writeback_failures_total. Nil: not registered.
	Registerer prometheus.Registerer
	// OnLanded is called, from the worker, after each write lands (for
	// notifications with a link to the commit). It must not block for
	// long: the next write waits for it. Nil: nothing is called.
	OnLanded func(Landed)
}

// Landed describes a write that reached the repository.
type Landed struct {
	Environment, Flag string
	Action            Action
	// Override is the override set (for a disable, the layer's override
	// that served the trip); nil for a clear.
	Override *ruleset.Override
	// Requester is who asked for the write; Reason why (for a set, the
	// override's reason).
	Requester, Reason string
	// Commit is the hash of the commit pushed; "" when nothing was
	// committed: directory mode, or the branch already held the file
	// exactly so (or, for a clear, did not hold it).
	Commit string
	// Since is when the write (or the first write it superseded) was
	// queued; Attempts how many attempts it took.
	Since    time.Time
	Attempts int
	// Dropped is set when the write was given up instead (ErrPermanent:
	// the flag file to disable is gone at the head); nothing was committed.
	Dropped error
}

// Pending is a write not yet in the repository, for /v1/status.
type Pending struct {
	Environment string    `json:"environment"`
	Flag        string    `json:"flag"`
	Action      Action    `json:"action"`
	Since       time.Time `json:"since"`
	Attempts    int       `json:"attempts"`
	// LastError is the last attempt's error, credentials removed.
	LastError string `json:"last_error,omitempty"`
}

type key struct{ env, flag string }

// write is one queued change of one override file.
type write struct {
	env, flag         string
	action            Action
	override          ruleset.Override // ActionSet and ActionDisable
	content           []byte           // ActionSet only
	requester, reason string
	since             time.Time
	attempts          int
	lastErr           string
	seq               uint64 // tells a superseding write from the one it replaced
	file              string // ActionDisable: the flag file found at the head
}

// Writer commits override files to the repository in the background.
// Its methods are safe for concurrent use.
type Writer struct {
	opts       Options
	clone      *gitx.Clone
	closeClone func()
	log        *slog.Logger
	clock      clockwork.Clock
	retry      backoff.Counter // used by the worker only
	wake       chan struct{}
	pendingG   prometheus.Gauge
	failures   prometheus.Counter

	mu      sync.Mutex
	pending map[key]*write
	seq     uint64

	// beforePush, when set (tests), runs between commit and push.
	beforePush func()
}

// New applies the defaults of opts and returns a Writer; call Run to
// start its worker. Nothing touches the network yet.
func New(opts Options) (*Writer, error) {
	w := &Writer{opts: opts, closeClone: func() {}, wake: make(chan struct{}, 1), pending: map[key]*write{}}
	switch {
	case opts.Clone != nil:
		w.clone = opts.Clone
	case opts.Remote != nil:
		c, err := opts.Remote.Open(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("opening the write-back clone: %w", err)
		}
		w.clone, w.closeClone = c, func() { c.Close() }
	case opts.Dir == "":
		return nil, errors.New("write-back: no repository (Clone, Remote or Dir)")
	}
	if w.opts.Branch == "" {
		w.opts.Branch = "main"
	}
	if err := gitx.CheckBranch(w.opts.Branch); err != nil {
		w.closeClone()
		return nil, fmt.Errorf("write-back: %w", err)
	}
	if w.opts.Author.Name == "" {
		w.opts.Author.Name = DefaultAuthorName
	}
	if w.opts.Author.Email == "" {
		w.opts.Author.Email = DefaultAuthorEmail
	}
	w.clock = opts.Clock
	if w.clock == nil {
		w.clock = clockwork.NewRealClock()
	}
	if w.opts.Backoff.Min <= 0 && w.opts.Backoff.Max <= 0 {
		w.opts.Backoff = DefaultBackoff
	}
	w.retry = backoff.Counter{Policy: w.opts.Backoff}
	w.log = opts.Logger
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.pendingG = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flagpole_writeback_pending",
		Help: "Override writes queued for the repository and not yet landed."})
	w.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "flagpole_writeback_failures_total",
		Help: "Failed attempts to commit and push an override write."})
	if r := opts.Registerer; r != nil {
		for _, c := range []prometheus.Collector{w.pendingG, w.failures} {
			if err := r.Register(c); err != nil {
				w.closeClone()
				return nil, fmt.Errorf("registering write-back metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Collectors returns the Writer's metrics (the pending gauge and the
// failure counter), for a caller that registers them itself (with
// Options.Registerer nil) and unregisters them when it replaces the Writer.
func (w *Writer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.pendingG, w.failures}
}

// Close releases the clone that New opened. Call it after Run returns.
func (w *Writer) Close() error {
	w.closeClone()
	return nil
}

// String names where the Writer writes, without credentials.
func (w *Writer) String() string {
	if w.clone != nil {
		return w.clone.String() + " branch " + w.opts.Branch
	}
	return w.opts.Dir
}

// Set queues writing o as the override of its flag in env (o.Environment
// may be empty; otherwise it must be env), on behalf of requester (the
// admin key's name, a trigger, "breaker"). It returns at once; the error
// is only for an override that cannot be written. A write of the same flag
// and environment still pending is replaced.
func (w *Writer) Set(_ context.Context, env string, o ruleset.Override, requester string) error {
	if o.Environment == "" {
		o.Environment = env
	}
	if o.Environment != env {
		return fmt.Errorf("override of %s: environment %q, want %q", o.Flag, o.Environment, env)
	}
	content, err := Render(o)
	if err != nil {
		return fmt.Errorf("writing back an override: %w", err)
	}
	w.enqueue(&write{env: env, flag: o.Flag, action: ActionSet, override: o, content: content,
		requester: requester, reason: o.Reason})
	return nil
}

// Clear queues removing the override of flag in env, on behalf of
// requester, for reason. It returns at once, like Set.
func (w *Writer) Clear(_ context.Context, env, flag, requester, reason string) error {
	if err := checkName("environment", env); err != nil {
		return fmt.Errorf("clearing an override: %w", err)
	}
	if err := checkName("flag", flag); err != nil {
		return fmt.Errorf("clearing an override: %w", err)
	}
	w.enqueue(&write{env: env, flag: flag, action: ActionClear, requester: requester, reason: reason})
	return nil
}

// enqueue records nw, superseding a pending write of the same file, and
// wakes the worker.
func (w *Writer) enqueue(nw *write) {
	w.mu.Lock()
	k := key{nw.env, nw.flag}
	w.seq++
	nw.seq = w.seq
	nw.since = w.clock.Now()
	if old := w.pending[k]; old != nil {
		nw.since, nw.attempts, nw.lastErr = old.since, old.attempts, old.lastErr
	}
	w.pending[k] = nw
	w.pendingG.Set(float64(len(w.pending)))
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Pending lists the writes not yet landed, oldest first.
func (w *Writer) Pending() []Pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Pending, 0, len(w.pending))
	for _, p := range w.sortedLocked() {
		out = append(out, Pending{Environment: p.env, Flag: p.flag, Action: p.action,
			Since: p.since, Attempts: p.attempts, LastError: p.lastErr})
	}
	return out
}

// sortedLocked returns the pending writes by age, then environment and
// flag. w.mu must be held.
func (w *Writer) sortedLocked() []*write {
	out := make([]*write, 0, len(w.pending))
	for _, p := range w.pending {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.since.Equal(b.since) {
			return a.since.Before(b.since)
		}
		if a.env != b.env {
			return a.env < b.env
		}
		return a.flag < b.flag
	})
	return out
}

// Run is the worker: it lands pending writes, oldest first, until ctx
// ends. After a failed attempt it waits out the backoff before trying
// again, or less when a new write arrives.
func (w *Writer) Run(ctx context.Context) error {
	for {
		var retry clockwork.Timer
		var retryC <-chan time.Time
		if !w.landAll(ctx) {
			retry = w.clock.NewTimer(w.retry.Next())
			retryC = retry.Chan()
		}
		select {
		case <-ctx.Done():
			if retry != nil {
				retry.Stop()
			}
			return ctx.Err()
		case <-w.wake:
			if retry != nil {
				retry.Stop()
			}
		case <-retryC:
		}
	}
}

// landAll attempts every pending write; it stops at the first failure
// (the remote is likely down for the others too) and reports whether all
// landed.
func (w *Writer) landAll(ctx context.Context) bool {
	// What is queued from here on is in the snapshot; only later writes
	// should wake the worker again.
	select {
	case <-w.wake:
	default:
	}
	w.mu.Lock()
	queue := w.sortedLocked()
	copies := make([]write, len(queue))
	for i, p := range queue {
		copies[i] = *p
	}
	w.mu.Unlock()
	for i := range copies {
		if ctx.Err() != nil {
			return true
		}
		wr := &copies[i]
		commit, err := w.attempt(ctx, wr)
		if errors.Is(err, ErrPermanent) {
			w.drop(wr, err)
			continue
		}
		if err != nil {
			w.failed(wr, err)
			return false
		}
		w.landed(wr, commit)
	}
	w.retry.Reset()
	return true
}

// attempt writes wr once and returns the commit pushed ("" for none).
func (w *Writer) attempt(ctx context.Context, wr *write) (string, error) {
	if w.clone == nil {
		return "", w.writeDir(wr)
	}
	head, err := w.clone.Fetch(ctx, w.opts.Branch)
	if err != nil {
		return "", err
	}
	change := gitx.Change{Path: Path(wr.env, wr.flag), Content: wr.content, Delete: wr.action == ActionClear}
	if wr.action == ActionDisable {
		if change, err = w.disableAt(head, wr); err != nil {
			return "", err
		}
		wr.file = change.Path
	}
	author := gitx.Signature{Name: w.opts.Author.Name, Email: w.opts.Author.Email, When: w.clock.Now()}
	commit, err := w.clone.Commit(head, []gitx.Change{change}, message(wr), author)
	if errors.Is(err, gitx.ErrNothingToCommit) {
		return "", nil // the branch already says so: no duplicate commit
	}
	if err != nil {
		return "", err
	}
	if w.beforePush != nil {
		w.beforePush()
	}
	if err := w.clone.Push(ctx, w.opts.Branch, commit); err != nil {
		return "", err
	}
	return commit.String(), nil
}

// writeDir applies wr to the directory repository: the file is replaced
// through a rename, so the directory source never reads half of it.
func (w *Writer) writeDir(wr *write) error {
	if wr.action == ActionDisable {
		return w.disableDir(wr)
	}
	file := filepath.Join(w.opts.Dir, filepath.FromSlash(Path(wr.env, wr.flag)))
	if wr.action == ActionClear {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", file, err)
		}
		_ = os.Remove(filepath.Dir(file)) // only when empty, as git keeps no empty directories
		return nil
	}
	if old, err := os.ReadFile(file); err == nil && string(old) == string(wr.content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return replaceFile(file, wr.content)
}

// replaceFile writes content to file through a temporary file and a
// rename.
func replaceFile(file string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".override-*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

// failed records a failed attempt of wr (or of the write that superseded
// it meanwhile: both are the same file's pending change).
func (w *Writer) failed(wr *write, err error) {
	msg := w.scrub(err)
	w.failures.Inc()
	w.mu.Lock()
	attempts := 0
	if p := w.pending[key{wr.env, wr.flag}]; p != nil {
		p.attempts++
		p.lastErr = msg
		attempts = p.attempts
	}
	w.mu.Unlock()
	level := slog.LevelWarn
	if errors.Is(err, gitx.ErrPushRejected) {
		level = slog.LevelInfo // someone pushed first: fetch and re-apply
	}
	w.log.Log(context.Background(), level, "write-back: attempt failed; will retry",
		"repo", w.String(), "env", wr.env, "flag", wr.flag, "action", wr.action, "attempts", attempts, "err", msg)
}

// drop gives wr up after a permanent failure: it leaves the pending
// writes (unless a newer write superseded it meanwhile) and is reported
// with Landed.Dropped.
func (w *Writer) drop(wr *write, err error) {
	msg := w.scrub(err)
	w.failures.Inc()
	w.mu.Lock()
	k := key{wr.env, wr.flag}
	if p := w.pending[k]; p != nil && p.seq == wr.seq {
		delete(w.pending, k)
	}
	w.pendingG.Set(float64(len(w.pending)))
	w.mu.Unlock()
	w.log.Error("write-back: write given up, it cannot be made", "repo", w.String(), "env", wr.env, "flag", wr.flag,
		"action", wr.action, "requested_by", wr.requester, "err", msg)
	if w.opts.OnLanded == nil {
		return
	}
	o := wr.override
	w.opts.OnLanded(Landed{Environment: wr.env, Flag: wr.flag, Action: wr.action, Override: &o,
		Requester: wr.requester, Reason: wr.reason, Since: wr.since, Attempts: wr.attempts + 1, Dropped: err})
}

// landed removes wr from the pending writes, unless a newer write of the
// same file superseded it meanwhile, and reports it.
func (w *Writer) landed(wr *write, commit string) {
	w.mu.Lock()
	k := key{wr.env, wr.flag}
	attempts := wr.attempts + 1
	if p := w.pending[k]; p != nil {
		attempts = p.attempts + 1
		if p.seq == wr.seq {
			delete(w.pending, k)
		} else {
			// The newer write starts its own count.
			p.attempts, p.lastErr = 0, ""
		}
	}
	w.pendingG.Set(float64(len(w.pending)))
	w.mu.Unlock()
	w.log.Info("write-back: override recorded", "repo", w.String(), "env", wr.env, "flag", wr.flag,
		"action", wr.action, "commit", commit, "requested_by", wr.requester)
	if w.opts.OnLanded == nil {
		return
	}
	l := Landed{Environment: wr.env, Flag: wr.flag, Action: wr.action, Requester: wr.requester,
		Reason: wr.reason, Commit: commit, Since: wr.since, Attempts: attempts}
	if wr.action != ActionClear {
		o := wr.override
		l.Override = &o
	}
	w.opts.OnLanded(l)
}

// scrub returns err's message without credentials. gitx scrubs its own
// errors; the Remote, when known, is the second line of defence.
func (w *Writer) scrub(err error) string {
	if w.opts.Remote != nil {
		err = w.opts.Remote.Scrub(err)
	}
	return err.Error()
}
