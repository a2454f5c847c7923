package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
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
	// Logger receives fallbacks and errors. Default: discard.
	Logger *slog.Logger
}

// Dir is a Source on a plain directory, watched recursively with fsnotify.
// It survives editors' rename-and-replace saves, directories removed and
// re-created (the root included) and directories created later, and falls
// back to polling where notification fails. A revision's ID is the SHA-256
// of the files' paths and contents; Revision.Dir is the directory itself,
// symbolic links resolved.
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
	fn       func(context.Context, Update)
	w        *fsnotify.Watcher // nil when polling only
	degraded bool              // some part is not watched: poll too
	real     string            // root with symbolic links resolved, at the last scan
	lastID   string
	lastErr  string
}

// Run implements Source.
func (d *Dir) Run(ctx context.Context, fn func(context.Context, Update)) error {
	r := &dirRun{Dir: d, fn: fn}
	if !d.opts.PollOnly {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			d.log.Warn("directory source: change notification unavailable; polling", "dir", d.root, "every", d.opts.Poll, "err", err)
		} else {
			r.w = w
			defer w.Close()
		}
	}
	r.scan(ctx)
	return r.loop(ctx)
}

// loop waits for events, debounces them and rescans.
func (r *dirRun) loop(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if r.w != nil {
		events, errs = r.w.Events, r.w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	poll := time.NewTicker(r.opts.Poll)
	defer poll.Stop()
	var first time.Time // first event of the current burst; zero if none
	arm := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := min(r.opts.Debounce, first.Add(10*r.opts.Debounce).Sub(now))
		debounce.Reset(max(wait, 0))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if r.relevant(ev) {
				arm()
			}
		case err, ok := <-errs:
			if !ok {
				return nil
			}
			// Usually an event queue overflow: changes were missed.
			r.log.Warn("directory source: watch error; rescanning", "dir", r.root, "err", err)
			arm()
		case <-debounce.C:
			first = time.Time{}
			r.scan(ctx)
		case <-r.trigger:
			r.scan(ctx)
		case <-poll.C:
			if r.w == nil || r.degraded {
				r.scan(ctx)
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

// scan hashes the tree, refreshes the watches and reports a new revision or
// a new error.
func (r *dirRun) scan(ctx context.Context) {
	// A root that is a symbolic link (a mounted volume, a release
	// directory) is read and watched through its target, resolved anew at
	// each scan so that a swapped link is followed.
	real, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		real = r.root
	}
	r.real = real
	hash, dirs, err := scanTree(real)
	if r.watch(dirs) > 0 && err == nil {
		// Files may have appeared in new directories before their watch
		// was in place: read once more now that it is.
		hash, _, err = scanTree(real)
	}
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
		return
	}
	r.lastID = hash
	r.fn(ctx, Update{Revision: Revision{ID: hash, Dir: real}})
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
