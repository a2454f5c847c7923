package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
	"github.com/fsnotify/fsnotify"
	"github.com/jonboulle/clockwork"
)

// DirOptions configures a directory source. The zero value is usable.
type DirOptions struct {
	// Debounce is how long the directory must stay quiet after a change
	// before it is read; a burst of changes is read at the latest after
	// 10×Debounce. Default 10 ms.
	Debounce time.Duration
	// Poll is how often the directory is re-read when change notification
	// is unavailable (no inotify, watch limit reached, directory missing).
	// Default 1 s.
	Poll time.Duration
	// PollOnly disables fsnotify, for file systems without notification
	// (NFS, some container mounts).
	PollOnly bool
	// Settle is how long a file written in place must keep its size and
	// modification time before the directory is read, so that a file
	// written in several chunks is never published half-written. A file
	// that appears whole (renamed into place, as editors and `git` do) is
	// read at once. When polling, a new revision is reported only once two
	// reads at least Settle apart agree. Default 500 ms; negative: none.
	Settle time.Duration
	// Rescan is the longest time between two full reads of the directory
	// while change notification works. In between, a burst of changes
	// reads again only the paths its notifications name (and the
	// directories created, walked): a one-file edit in a directory of
	// 10,000 files lstats one file, not 10,000. The full read, at the first
	// burst or poll tick (Poll) after Rescan has passed, catches anything
	// notification missed. A watch error (queue overflow), Trigger, a
	// changed root link or more than 1,000 changed paths in one burst also
	// read everything. Default 1 min; negative: every burst reads the whole
	// directory.
	Rescan time.Duration
	// Clock is the clock of debouncing, settling and polling. Default: the
	// real clock.
	Clock clockwork.Clock
	// Logger receives fallbacks and errors. Default: discard.
	Logger *slog.Logger
}

// Dir is a Source on a plain directory, watched recursively with fsnotify.
// It survives editors' rename-and-replace saves, directories removed and
// re-created (the root included) and directories created later, and falls
// back to polling where notification fails. A revision's ID is the SHA-256
// of the files' paths and content hashes; Revision.Dir is the directory
// itself, symbolic links resolved. A file whose size, times and inode are
// those of the last scan (and that had not changed within fstat.Margin
// before it) is not read again.
type Dir struct {
	root    string
	opts    DirOptions
	log     *slog.Logger
	trigger chan struct{}
}

var _ Source = (*Dir)(nil)

// NewDir returns a source for the directory at path. The directory need not
// exist yet: until it does, Run reports an error and polls.
func NewDir(path string, opts DirOptions) (*Dir, error) {
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("directory source %s: %w", path, err)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 10 * time.Millisecond
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Settle == 0 {
		opts.Settle = 500 * time.Millisecond
	}
	if opts.Rescan == 0 {
		opts.Rescan = time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Dir{root: root, opts: opts, log: opts.Logger, trigger: make(chan struct{}, 1)}, nil
}

// String implements Source: the absolute path.
func (d *Dir) String() string { return d.root }

// Trigger implements Source: re-read the directory now.
func (d *Dir) Trigger() {
	select {
	case d.trigger <- struct{}{}:
	default:
	}
}

// dirRun is the state of one Run.
type dirRun struct {
	*Dir
	tree   tree // entries of the last scan, valid if treeOK
	treeOK bool
	// dirty holds the paths named by the notifications of the current
	// burst; full, that the whole directory must be read instead.
	dirty    map[string]bool
	full     bool
	fullAt   time.Time // when the directory was last read whole
	buf      []byte    // read buffer of incremental scans
	fn       func(context.Context, Update)
	w        *fsnotify.Watcher // nil when polling only
	degraded bool              // some part is not watched: poll too
	real     string            // root with symbolic links resolved, at the last scan
	lastID   string
	lastErr  string
	writing  map[string]fileMark // files written in place, not yet settled
	// candidate is a revision that a poll found and that must be found
	// again Settle later before it is reported; candidateAt is when.
	candidate   string
	candidateAt time.Time
	// retried: the receiver of the last revision could not use it
	// (Revision.Retry); the loop reads everything after a debounce.
	retried bool
}

// retry implements Revision.Retry: the receiver found the directory
// changed while it loaded the revision. Forgetting the reported ID makes
// the next scan report even the same ID again (a file changed and changed
// back), and a full read after a debounce makes sure a next scan comes
// even if no notification is on its way. It runs inside fn, on the loop's
// goroutine.
func (r *dirRun) retry() {
	r.lastID = ""
	r.full = true
	r.retried = true
}

// fileMark is a file being written in place: its size and modification
// time when last seen, and since when they have not changed.
type fileMark struct {
	size  int64
	mtime time.Time
	since time.Time
}

// Run implements Source.
func (d *Dir) Run(ctx context.Context, fn func(context.Context, Update)) error {
	r := &dirRun{Dir: d, fn: fn, writing: map[string]fileMark{}, dirty: map[string]bool{}, buf: make([]byte, 32<<10)}
	if !d.opts.PollOnly {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			d.log.Warn("directory source: change notification unavailable; polling", "dir", d.root, "every", d.opts.Poll, "err", err)
		} else {
			r.w = w
			defer w.Close()
		}
	}
	r.scan(ctx, true)
	return r.loop(ctx)
}

// loop waits for events, debounces them and rescans.
func (r *dirRun) loop(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if r.w != nil {
		events, errs = r.w.Events, r.w.Errors
	}
	clock := r.opts.Clock
	debounce := clock.NewTimer(time.Hour)
	debounce.Stop()
	poll := clock.NewTicker(r.opts.Poll)
	defer poll.Stop()
	var first time.Time // first event of the current burst; zero if none
	arm := func() {
		now := clock.Now()
		if first.IsZero() {
			first = now
		}
		wait := min(r.opts.Debounce, first.Add(10*r.opts.Debounce).Sub(now))
		debounce.Reset(max(wait, 0))
	}
	for {
		if r.retried {
			r.retried = false
			arm()
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if r.relevant(ev) {
				r.note(ev.Name)
				if ev.Has(fsnotify.Write) {
					r.mark(ev.Name)
				}
				arm()
			}
		case err, ok := <-errs:
			if !ok {
				return nil
			}
			// Usually an event queue overflow: changes were missed.
			r.log.Warn("directory source: watch error; rescanning", "dir", r.root, "err", err)
			r.full = true
			arm()
		case <-debounce.Chan():
			first = time.Time{}
			if wait := r.unsettled(); wait > 0 {
				debounce.Reset(wait)
				continue
			}
			r.refresh(ctx)
		case <-r.trigger:
			r.scan(ctx, true)
		case <-poll.Chan():
			switch {
			case r.w == nil || r.degraded:
				r.scan(ctx, false)
			case r.opts.Rescan > 0 && first.IsZero() && len(r.writing) == 0 && clock.Since(r.fullAt) >= r.opts.Rescan:
				r.scan(ctx, true) // the safety rescan, between bursts
			}
		}
	}
}

// relevant filters out attribute-only changes, .git and the parent
// directory's other entries.
func (r *dirRun) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	for _, base := range []string{r.root, r.real} {
		if base == "" || (ev.Name != base && !strings.HasPrefix(ev.Name, base+string(filepath.Separator))) {
			continue
		}
		rel, _ := filepath.Rel(base, ev.Name)
		return !slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), ".git")
	}
	return false // another entry of the parent directory
}

// mark notes that path was written in place: it must settle before the
// directory is read.
func (r *dirRun) mark(path string) {
	if r.opts.Settle < 0 {
		return
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	m, ok := r.writing[path]
	if !ok || m.size != fi.Size() || !m.mtime.Equal(fi.ModTime()) {
		r.writing[path] = fileMark{size: fi.Size(), mtime: fi.ModTime(), since: r.opts.Clock.Now()}
	}
}

// unsettled forgets the files written in place that have kept their size
// and modification time for Settle, and returns how long until the others
// may have settled (0 when none is left).
func (r *dirRun) unsettled() time.Duration {
	now := r.opts.Clock.Now()
	var wait time.Duration
	for path, m := range r.writing {
		fi, err := os.Stat(path)
		if err != nil {
			delete(r.writing, path) // removed: nothing half-written to read
			continue
		}
		if m.size != fi.Size() || !m.mtime.Equal(fi.ModTime()) {
			m = fileMark{size: fi.Size(), mtime: fi.ModTime(), since: now}
			r.writing[path] = m
		}
		left := m.since.Add(r.opts.Settle).Sub(now)
		if left <= 0 {
			delete(r.writing, path)
			continue
		}
		if wait == 0 || left < wait {
			wait = left
		}
	}
	return wait
}

// scan hashes the tree, refreshes the watches and reports a new revision or
// a new error. A revision found by polling (settled false) is reported only
// when a scan Settle or more earlier found it too: polling sees no writes,
// only their results.
func (r *dirRun) scan(ctx context.Context, settled bool) {
	// A root that is a symbolic link (a mounted volume, a release
	// directory) is read and watched through its target, resolved anew at
	// each scan so that a swapped link is followed.
	real, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		real = r.root
	}
	r.real = real
	r.log.Debug("directory source: reading everything", "dir", real)
	clear(r.dirty)
	r.full = false
	r.fullAt = r.opts.Clock.Now()
	hash, dirs, err := scanTree(real, &r.tree)
	if r.watch(dirs) > 0 && err == nil {
		// Files may have appeared in new directories before their watch
		// was in place: read once more now that it is.
		hash, _, err = scanTree(real, &r.tree)
	}
	r.treeOK = err == nil && len(r.tree.entries) > 0 && r.tree.entries[0].kind == fstat.KindDir
	r.report(ctx, hash, real, err, settled)
}

// report reports a new revision or a new error.
func (r *dirRun) report(ctx context.Context, hash, real string, err error, settled bool) {
	if err != nil {
		r.degraded = true
		if msg := err.Error(); msg != r.lastErr {
			r.lastErr = msg
			r.fn(ctx, Update{Err: err})
		}
		return
	}
	// After an error the revision is reported again even if unchanged, so
	// that the receiver knows the source has recovered.
	recovered := r.lastErr != ""
	r.lastErr = ""
	if hash == r.lastID && !recovered {
		r.candidate = ""
		return
	}
	if !settled && r.opts.Settle > 0 && r.lastID != "" {
		now := r.opts.Clock.Now()
		if hash != r.candidate {
			r.candidate, r.candidateAt = hash, now
			return
		}
		if now.Sub(r.candidateAt) < r.opts.Settle {
			return
		}
	}
	r.candidate = ""
	r.lastID = hash
	r.fn(ctx, Update{Revision: Revision{ID: hash, Dir: real, Files: r.tree.scan(), Retry: r.retry}})
}

// watch makes the watch list match dirs plus the root's parent (to see the
// root re-created). A directory that cannot be watched makes the source
// poll as well. It returns how many directories it started watching.
func (r *dirRun) watch(dirs []string) (added int) {
	if r.w == nil {
		return 0
	}
	want := map[string]bool{filepath.Dir(r.root): true}
	for _, d := range dirs {
		want[d] = true
	}
	have := map[string]bool{}
	for _, p := range r.w.WatchList() {
		have[p] = true
		if !want[p] {
			_ = r.w.Remove(p)
		}
	}
	degraded := len(dirs) == 0
	for p := range want {
		if have[p] {
			continue
		}
		if err := r.w.Add(p); err != nil {
			if !degraded {
				r.log.Warn("directory source: cannot watch; polling", "dir", p, "every", r.opts.Poll, "err", err)
			}
			degraded = true
			continue
		}
		added++
	}
	r.degraded = degraded
	return added
}

// maxDirty is how many changed paths a burst may name before the whole
// directory is read instead of each of them.
const maxDirty = 1000

// note records a path named by a relevant notification.
func (r *dirRun) note(name string) {
	if r.full || len(r.dirty) > maxDirty {
		return
	}
	r.dirty[name] = true
}

// refresh reads what the current burst changed: only the paths its
// notifications named when that is safe, else the whole directory.
func (r *dirRun) refresh(ctx context.Context) {
	paths, ok := r.dirtyPaths()
	if !ok {
		r.scan(ctx, true)
		return
	}
	clear(r.dirty)
	if len(paths) == 0 {
		return
	}
	r.log.Debug("directory source: reading changed paths", "dir", r.real, "paths", len(paths))
	walked, dropped, err := r.tree.update(paths, r.buf)
	if err == nil && r.w != nil {
		for _, d := range dropped {
			_ = r.w.Remove(d) // gone already, usually
		}
		for _, d := range walked {
			sub, _ := filepath.Rel(r.real, d)
			if err = r.watchTree(filepath.ToSlash(sub)); err != nil {
				break
			}
		}
		if len(walked) > 0 && err == nil {
			// Files may have appeared in new directories before their
			// watch was in place: read them once more now that it is.
			rels := make([]string, len(walked))
			for i, d := range walked {
				rel, _ := filepath.Rel(r.real, d)
				rels[i] = filepath.ToSlash(rel)
			}
			var again []string
			again, _, err = r.tree.update(rels, r.buf)
			for _, d := range again {
				sub, _ := filepath.Rel(r.real, d)
				if err == nil {
					err = r.watchTree(filepath.ToSlash(sub))
				}
			}
		}
	}
	if err != nil {
		r.log.Debug("directory source: incremental scan failed; reading everything", "dir", r.root, "err", err)
		r.scan(ctx, true)
		return
	}
	r.report(ctx, sumEntries(r.tree.entries), r.real, nil, true)
}

// dirtyPaths returns the current burst's paths relative to the root, and
// false when the whole directory must be read instead.
func (r *dirRun) dirtyPaths() ([]string, bool) {
	if r.full || !r.treeOK || r.w == nil || r.degraded || r.lastErr != "" || r.opts.Rescan < 0 ||
		len(r.dirty) > maxDirty || r.opts.Clock.Since(r.fullAt) >= r.opts.Rescan {
		return nil, false
	}
	if real, err := filepath.EvalSymlinks(r.root); err != nil || real != r.real || r.tree.root != real {
		return nil, false // the root, or its link, changed
	}
	paths := make([]string, 0, len(r.dirty))
	for name := range r.dirty {
		rel, err := filepath.Rel(r.real, name)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, false // the root itself, or named through its link
		}
		paths = append(paths, filepath.ToSlash(rel))
	}
	return paths, true
}

// watchTree watches the directories of the tree at or under slash path sub.
func (r *dirRun) watchTree(sub string) error {
	lo, hi := r.tree.span(sub)
	for _, e := range r.tree.entries[lo:hi] {
		if e.kind != fstat.KindDir {
			continue
		}
		if err := r.w.Add(filepath.Join(r.real, filepath.FromSlash(e.rel))); err != nil {
			r.log.Warn("directory source: cannot watch; polling", "dir", e.rel, "every", r.opts.Poll, "err", err)
			r.degraded = true
			return err
		}
	}
	return nil
}
