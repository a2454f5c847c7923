package loader

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/flagpole/flagpole/internal/fstat"
)

// Repository layout.
const (
	settingsFile   = "flagpole.yaml"
	attributesFile = "attributes.yaml"
	audiencesDir   = "audiences"
	flagsDir       = "flags"
	overridesDir   = "overrides"
)

// rawFile is a repository file read from disk.
type rawFile struct {
	rel  string // slash-separated, relative to the root
	data []byte
	stat fileStat // when the file's metadata is known
	// reuse is set, and data nil, when the file is unchanged since the
	// Cache's last load read it (Cache.unchanged).
	reuse bool
	// sum is data's SHA-256 when summed (checked against a scan).
	sum    [sha256.Size]byte
	summed bool
	// entry and f, when reuse, are the Cache's entry for the file and its
	// parsed form. A rawFile that reuses an entry stays valid while the
	// entry is the Cache's for rel (see dirEntry.last); its stat is then
	// the one of the load that made it, which nothing reads.
	entry *cacheEntry
	f     *yfile
}

// ErrChanged is the error (wrapped, naming the path) of a load whose
// directory changed after the scan handed to it (Cache.UseScan): what it
// read is not the revision the scan identified. Load the next revision.
var ErrChanged = errors.New("changed after the directory was scanned")

// tree is the set of files that make up a repository.
type tree struct {
	settings   *rawFile // nil when missing or unreadable
	attributes *rawFile
	audiences  []*rawFile
	flags      []*rawFile
	overrides  []*rawFile
	diags      Diagnostics
	// listing is the scan's listing the reader used (Cache.listing),
	// which the Cache keeps once the files are parsed.
	listing *scanListing
	// fresh holds the listing's entries whose files were read, to be
	// given their dirEntry.last once parsed (Cache.settleListing).
	fresh []freshRead
}

// freshRead is a listing's entry and the file read for it.
type freshRead struct {
	e   *dirEntry
	raw *rawFile
}

// settleListing gives each entry of t's listing whose file was read and
// parsed the dirEntry.last the next load would give it: a rawFile reusing
// the Cache's entry. Otherwise the first load after a cold one looks up
// every file (at 100,000 files, 0.1 s of a one-file edit) only to set them.
func (c *Cache) settleListing(t *tree) {
	for _, fr := range t.fresh {
		ce := c.files[fr.raw.rel]
		if ce == nil || ce.gen != c.gen || ce.sum != fr.raw.sum || !fr.raw.summed {
			continue // not checked against the scan's hash: looked up next time
		}
		fr.e.last = &rawFile{rel: fr.raw.rel, stat: fr.raw.stat, reuse: true, entry: ce, f: ce.f}
	}
	t.fresh = nil
}

// reader reads a repository without leaving its root.
type reader struct {
	root    string // absolute, symlinks resolved
	maxSize int64
	cache   *Cache     // when set, files it holds unchanged are not read
	mu      sync.Mutex // guards t.diags and listed while files are read in parallel
	t       *tree
	// listed holds every path the reader looked for, when the cache has a
	// scan to check the listing against (Cache.UseScan).
	listed map[string]bool
	// children lists each directory of the scan handed to the load, by
	// name (nil without a scan); unlisted is set when some directory was
	// listed from the file system instead (one the scan reached through a
	// symbolic link, or does not hold).
	children map[string][]dirEntry
	unlisted bool
	// scanListed holds the directories listed from the scan: their files
	// are the scan's by construction (no look, no checkListing).
	scanListed map[string]bool
}

// dirEntry is one entry of a directory listing: its name and its kind
// (fstat.KindDir, KindLink, KindFile or KindOther), as lstat sees it.
// An entry of a scan's listing (listScan) also has its slash path, and
// last: the rawFile that reused the Cache's entry for the file at the
// last load. The Cache's listing keeps an entry while the file's kind and
// content hash stay the scan's, so last still stands for the file then
// (Cache.listing drops the listing when a load did not go through it).
type dirEntry struct {
	name string
	kind byte
	rel  string
	last *rawFile
}

func (e dirEntry) isDir() bool { return e.kind == fstat.KindDir }

// listScan groups the scan's paths by directory, each sorted by name, so
// that the load lists the directories the scan identified rather than
// listing them again: the load then reads the revision the scan named (a
// file created since is the next revision's), and at 10,000 files saves
// a listing and a sort of every directory per change.
func listScan(scan map[string]fstat.Scanned) map[string][]dirEntry {
	children := map[string][]dirEntry{}
	for rel, sc := range scan {
		dir, name := splitRel(rel)
		children[dir] = append(children[dir], dirEntry{name: name, kind: sc.Kind, rel: rel})
	}
	for _, list := range children {
		slices.SortFunc(list, compareEntries)
	}
	return children
}

func compareEntries(a, b dirEntry) int { return strings.Compare(a.name, b.name) }

// splitRel splits a slash path into its directory ("" at the root) and
// name.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// scanListing is listScan's result for the last scan a Cache's load was
// handed, with the kind and content hash of each of its paths: the next
// scan's listing patches it where paths appeared, went or changed. It
// holds for the loads with the same maxSize and skipReads only (which
// decide what dirEntry.last is). gen is the scan's number
// (fstat.Scan.Gen), zero if it has none.
type scanListing struct {
	paths     map[string]scanKey
	children  map[string][]dirEntry
	maxSize   int64
	skipReads bool
	gen       uint64
}

// scanKey is what a listing's entry stands for of a scanned path.
type scanKey struct {
	kind byte
	sum  [sha256.Size]byte
}

func keyOfScan(sc fstat.Scanned) scanKey { return scanKey{kind: sc.Kind, sum: sc.Sum} }

// listing returns listScan(scan.Files). When the last load through c was
// handed a scan too, read what it listed and parsed it, and few paths
// differ from that scan in presence, kind or content hash (a commit
// changes a few files), it patches that scan's listing instead: the
// entries of unchanged files keep dirEntry.last, so the reader need not
// look them up again; a directory's entries are replaced in place when the
// changes only replace entries, else it gets a new slice. When the
// scan names the paths changed since that one (fstat.Scan.Since), only
// they are compared; otherwise every path is looked up once, which at
// 100,000 files was a sixth of a one-file load (and a sort of every
// directory, listing afresh, was a tenth at 10,000).
func (c *Cache) listing(scan *fstat.Scan, maxSize int64) *scanListing {
	l := c.listed
	c.listed = nil // until this load has parsed what it read (Load)
	if l == nil || l.maxSize != maxSize || l.skipReads != c.skipReads {
		return c.listAfresh(scan, maxSize)
	}
	changes := map[string][]listingChange{} // by directory
	n := 0
	limit := len(scan.Files)/8 + 16 // beyond it, sorting afresh is about as cheap
	// compare notes rel's change, if any, and reports false when there
	// are too many to patch.
	compare := func(rel string) bool {
		k, had := l.paths[rel]
		sc, has := scan.Files[rel]
		key := keyOfScan(sc)
		if had == has && (!has || k == key) {
			return true
		}
		dir, name := splitRel(rel)
		changes[dir] = append(changes[dir], listingChange{rel, name, key, !has})
		n++
		return n <= limit
	}
	if named, ok := l.changedIn(scan); ok {
		c.listedNamed++
		for _, rel := range named {
			if !compare(rel) {
				return c.listAfresh(scan, maxSize)
			}
		}
	} else {
		seen := 0
		for rel := range scan.Files {
			if _, ok := l.paths[rel]; ok {
				seen++
			}
			if !compare(rel) {
				return c.listAfresh(scan, maxSize)
			}
		}
		if seen < len(l.paths) {
			for rel := range l.paths {
				if _, ok := scan.Files[rel]; !ok && !compare(rel) {
					return c.listAfresh(scan, maxSize)
				}
			}
		}
	}
	for dir, chs := range changes {
		slices.SortFunc(chs, func(a, b listingChange) int { return strings.Compare(a.name, b.name) })
		old := l.children[dir]
		if replaceEntries(old, chs) {
			for _, ch := range chs {
				l.paths[ch.rel] = ch.key
			}
			continue
		}
		list := make([]dirEntry, 0, len(old)+len(chs))
		i := 0
		for _, ch := range chs {
			for i < len(old) && old[i].name < ch.name {
				list = append(list, old[i])
				i++
			}
			if i < len(old) && old[i].name == ch.name {
				i++ // replaced or gone
			}
			if !ch.gone {
				list = append(list, dirEntry{name: ch.name, kind: ch.key.kind, rel: ch.rel})
			}
		}
		list = append(list, old[i:]...)
		if len(list) == 0 {
			delete(l.children, dir)
		} else {
			l.children[dir] = list
		}
		for _, ch := range chs {
			if ch.gone {
				delete(l.paths, ch.rel)
			} else {
				l.paths[ch.rel] = ch.key
			}
		}
	}
	l.gen = scan.Gen
	return l
}

// listingChange is a path of a listing that a scan found added, changed
// or gone.
type listingChange struct {
	rel, name string
	key       scanKey
	gone      bool
}

// replaceEntries replaces, in place, the entries of list (sorted by name)
// that chs change, when each change replaces an entry that is there, and
// reports whether it did; otherwise it changes nothing. A one-file edit
// then costs no copy of its directory's listing (at 100,000 files, 5 MB
// per edit).
func replaceEntries(list []dirEntry, chs []listingChange) bool {
	at := make([]int, len(chs))
	for i, ch := range chs {
		j, found := slices.BinarySearchFunc(list, ch.name, func(e dirEntry, name string) int { return strings.Compare(e.name, name) })
		if !found || ch.gone {
			return false
		}
		at[i] = j
	}
	for i, ch := range chs {
		list[at[i]] = dirEntry{name: ch.name, kind: ch.key.kind, rel: ch.rel}
	}
	return true
}

// changedIn returns the paths that may differ between the scan l lists
// and scan, when scan knows them (fstat.Scan.Since).
func (l *scanListing) changedIn(scan *fstat.Scan) ([]string, bool) {
	if l.gen == 0 || scan.Gen == 0 || scan.Since == nil {
		return nil, false
	}
	return scan.Since(l.gen)
}

// listAfresh lists scan (listScan).
func (c *Cache) listAfresh(scan *fstat.Scan, maxSize int64) *scanListing {
	paths := make(map[string]scanKey, len(scan.Files))
	for rel, sc := range scan.Files {
		paths[rel] = keyOfScan(sc)
	}
	return &scanListing{paths: paths, children: listScan(scan.Files), maxSize: maxSize, skipReads: c.skipReads, gen: scan.Gen}
}

// readTree reads every file of the repository at dir. Problems with single
// files become diagnostics; failing to read the repository at all is an
// error.
func readTree(dir string, maxSize int64, cache *Cache) (*tree, error) {
	root, err := resolveRoot(dir)
	if err != nil {
		return nil, err
	}
	r := &reader{root: root, maxSize: maxSize, cache: cache, t: &tree{}}
	if cache != nil && cache.scan != nil {
		r.listed = map[string]bool{}
		r.t.listing = cache.listing(cache.scan, maxSize)
		r.children = r.t.listing.children
		r.scanListed = map[string]bool{}
	}
	if r.t.settings, err = r.readOptional(settingsFile, false); err != nil {
		return nil, err
	}
	if r.t.settings == nil && !r.hasDiag(settingsFile) {
		r.fileError(settingsFile, "file not found: this is not a flags repository (flagpole init creates one)")
	}
	if r.t.attributes, err = r.readOptional(attributesFile, false); err != nil {
		return nil, err
	}
	if r.t.audiences, err = r.readDir(audiencesDir); err != nil {
		return nil, err
	}
	if r.t.flags, err = r.readDir(flagsDir); err != nil {
		return nil, err
	}
	if err := r.readOverrides(); err != nil {
		return nil, err
	}
	if err := r.checkListing(); err != nil {
		return nil, err
	}
	return r.t, nil
}

// checkListing fails with ErrChanged when the scan handed to the load
// (Cache.UseScan) holds a file the reader should have looked for and did
// not: it was removed, or its directory replaced, after the scan. Files
// the reader found and the scan lacks are caught as they are read.
func (r *reader) checkListing() error {
	if r.listed == nil || !r.unlisted {
		return nil // every directory listed from the scan holds its files
	}
	for rel, sc := range r.cache.scan.Files {
		if sc.Kind != fstat.KindDir && repoFile(rel) && !r.listed[rel] && !r.scanListed[path.Dir(rel)] {
			return fmt.Errorf("%s: %w (now missing)", rel, ErrChanged)
		}
	}
	return nil
}

// repoFile reports whether the slash path rel is where the reader looks
// for a file when every directory on the way is a real one: flagpole.yaml,
// attributes.yaml, audiences/*, flags/* and overrides/*/*, names not
// starting with a dot, .yaml or .yml.
func repoFile(rel string) bool {
	dir, name := path.Split(rel)
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch dir {
	case "":
		return name == settingsFile || name == attributesFile
	case audiencesDir + "/", flagsDir + "/":
		return isYAML(name)
	}
	env, ok := strings.CutPrefix(dir, overridesDir+"/")
	env, ok2 := strings.CutSuffix(env, "/")
	return ok && ok2 && env != "" && !strings.Contains(env, "/") && !strings.HasPrefix(env, ".") && isYAML(name)
}

// look records that the reader looked for rel, and fails with ErrChanged
// when rel exists, its directory is a real one in the scan, and the scan
// does not hold it: the file appeared after the scan.
func (r *reader) look(rel string, exists bool) error {
	if r.listed == nil {
		return nil
	}
	r.mu.Lock()
	r.listed[rel] = true
	r.mu.Unlock()
	if !exists {
		return nil
	}
	if _, ok := r.cache.scanned(rel); ok {
		return nil
	}
	if dir, ok := r.cache.scanned(path.Dir(rel)); ok && dir.Kind == fstat.KindDir {
		return fmt.Errorf("%s: %w (it is new)", rel, ErrChanged)
	}
	return nil
}

// checkContent fails with ErrChanged when the scan handed to the load
// holds the file at real (a path inside the root) with another content
// hash than data's, and returns data's hash (zero, false without a scan).
func (r *reader) checkContent(rel, real string, data []byte) ([sha256.Size]byte, bool, error) {
	if r.listed == nil {
		return [sha256.Size]byte{}, false, nil
	}
	realRel := rel
	if real != filepath.Join(r.root, filepath.FromSlash(rel)) {
		p, err := filepath.Rel(r.root, real)
		if err != nil {
			return [sha256.Size]byte{}, false, nil
		}
		realRel = filepath.ToSlash(p)
	}
	sum := sha256.Sum256(data)
	if sc, ok := r.cache.scanned(realRel); ok && sc.Kind == fstat.KindFile && sc.Sum != sum {
		return sum, true, fmt.Errorf("%s: %w (its content is not the scanned one)", realRel, ErrChanged)
	}
	return sum, true, nil
}

// resolveRoot returns the absolute, symlink-free path of the repository
// directory dir.
func resolveRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving repository path %s: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("opening repository %s: %w", dir, err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return "", fmt.Errorf("opening repository %s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("opening repository %s: not a directory", dir)
	}
	return root, nil
}

func (r *reader) fileError(rel, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.diags = append(r.t.diags, Diagnostic{File: rel, Message: msg})
}

func (r *reader) fileWarning(rel, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.diags = append(r.t.diags, Diagnostic{File: rel, Message: msg, Severity: SeverityWarning})
}

func (r *reader) hasDiag(rel string) bool {
	for _, d := range r.t.diags {
		if d.File == rel {
			return true
		}
	}
	return false
}

// resolve returns the real path of rel and whether it stays inside the
// root; a missing path yields fs.ErrNotExist.
func (r *reader) resolve(rel string) (string, os.FileInfo, error) {
	full := filepath.Join(r.root, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		if _, lerr := os.Lstat(full); lerr == nil && errors.Is(err, fs.ErrNotExist) {
			return "", nil, errDangling
		}
		return "", nil, err
	}
	if !inside(r.root, real) {
		return "", nil, errOutside
	}
	if !repoArea(r.root, real) {
		return "", nil, errOutsideArea
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", nil, err
	}
	return real, st, nil
}

var (
	errOutside     = errors.New("resolves outside the repository root")
	errOutsideArea = errors.New("resolves outside flags/, audiences/, overrides/, tests/, flagpole.yaml and attributes.yaml")
	errDangling    = errors.New("points to a missing file")
)

// repoArea reports whether p, inside root, lies where repository files
// live: a symlink may not expose .git/ (credentials in its config) or any
// other file of the work tree.
func repoArea(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if slices.Contains(parts, ".git") {
		return false
	}
	switch parts[0] {
	case "flags", "audiences", "overrides", "tests":
		return true
	case "flagpole.yaml", "attributes.yaml":
		return len(parts) == 1
	}
	return false
}

func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// readOptional reads rel if it exists. Its directory must already be known
// to lie inside the root (the root itself, or a directory listDir
// resolved): then only a symlink needs resolving, which keeps the common
// case at one lstat, open and read.
func (r *reader) readOptional(rel string, fromScan bool) (*rawFile, error) {
	full := filepath.Join(r.root, filepath.FromSlash(rel))
	sc, scanned := r.cache.scanned(rel)
	var st fs.FileInfo
	var err error
	if scanned && sc.Info != nil {
		st = sc.Info // Cache.UseScan: stat once
	} else {
		st, err = os.Lstat(full)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, r.look(rel, false)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", full, err)
	}
	if !fromScan { // a file listed from the scan is the scan's
		if err := r.look(rel, true); err != nil {
			return nil, err
		}
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		if scanned && sc.Kind == fstat.KindLink {
			// The link's target is part of the revision: one pointed
			// elsewhere since the scan is another revision.
			if target, err := os.Readlink(full); err != nil || target != sc.Target {
				return nil, fmt.Errorf("%s: %w (the link was changed or removed)", rel, ErrChanged)
			}
		}
		real, rst, err := r.resolve(rel)
		switch {
		case errors.Is(err, errOutside), errors.Is(err, errOutsideArea), errors.Is(err, errDangling):
			r.fileError(rel, "symlink "+err.Error())
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", full, err)
		}
		full, st = real, rst
	}
	if !st.Mode().IsRegular() {
		r.fileError(rel, "not a regular file")
		return nil, nil
	}
	if st.Size() > r.maxSize {
		r.fileError(rel, fmt.Sprintf("file is %d bytes, over the limit of %d", st.Size(), r.maxSize))
		return nil, nil
	}
	stat := statOf(st)
	if e := r.cache.unchanged(rel, stat, sc, scanned); e != nil {
		return &rawFile{rel: rel, stat: stat, reuse: true, entry: e, f: e.f}, nil
	}
	data, err := readLimited(full, st.Size(), r.maxSize)
	if err != nil {
		if scanned && goneOrReplaced(err) {
			return nil, fmt.Errorf("%s: %w (now missing, or no longer a file)", rel, ErrChanged)
		}
		if errors.Is(err, errNotRegular) { // replaced since its lstat
			r.fileError(rel, "not a regular file")
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", full, err)
	}
	if int64(len(data)) > r.maxSize {
		if scanned && sc.Kind == fstat.KindFile && sc.Info != nil && sc.Info.Size() <= r.maxSize {
			return nil, fmt.Errorf("%s: %w (it grew over the size limit)", rel, ErrChanged)
		}
		r.fileError(rel, fmt.Sprintf("file is over the limit of %d bytes", r.maxSize))
		return nil, nil
	}
	sum, summed, err := r.checkContent(rel, full, data)
	if err != nil {
		return nil, err
	}
	return &rawFile{rel: rel, data: data, stat: stat, sum: sum, summed: summed}, nil
}

// errNotRegular is readLimited's error for a path that was not a regular
// file when it was opened.
var errNotRegular = errors.New("not a regular file")

// goneOrReplaced reports whether err, from reading a file, says the path
// no longer holds the file that was there: it is gone, a directory on the
// way or the path itself is now something else.
func goneOrReplaced(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, errNotRegular)
}

// listDir lists the entries of directory rel, sorted; missing is fine.
func (r *reader) listDir(rel string) ([]dirEntry, bool, error) {
	if r.children != nil {
		switch sc, ok := r.cache.scanned(rel); {
		case ok && sc.Kind == fstat.KindDir:
			r.scanListed[rel] = true // on the load's goroutine, before its files are read
			return r.children[rel], true, nil
		case !ok && !strings.Contains(rel, "/"):
			return nil, false, nil // the scan of the root found none
		}
		r.unlisted = true
	}
	real, st, err := r.resolve(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case errors.Is(err, errOutside), errors.Is(err, errOutsideArea), errors.Is(err, errDangling):
		r.fileError(rel, "symlink "+err.Error())
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading %s: %w", filepath.Join(r.root, rel), err)
	}
	if !st.IsDir() {
		r.fileError(rel, "must be a directory")
		return nil, false, nil
	}
	listing, err := os.ReadDir(real) // sorted by name
	if err != nil {
		return nil, false, fmt.Errorf("reading directory %s: %w", real, err)
	}
	entries := make([]dirEntry, len(listing))
	for i, e := range listing {
		entries[i] = dirEntry{name: e.Name(), kind: fstat.KindFile}
		switch t := e.Type(); {
		case t.IsDir():
			entries[i].kind = fstat.KindDir
		case t&fs.ModeSymlink != 0:
			entries[i].kind = fstat.KindLink
		case !t.IsRegular():
			entries[i].kind = fstat.KindOther
		}
	}
	return entries, true, nil
}

// readDir reads the .yaml and .yml files of directory rel. In a
// directory listed from the scan (Cache.listing), a file whose entry has
// last, the rawFile that reused the Cache's entry at the last load, is
// that rawFile again: its kind and content hash are still the scan's, and
// the Cache's entry is still the one for it, so readOptional would reuse
// it again. That spares an unchanged file's lookups and allocations,
// which at 100,000 files were most of a one-file load's reading.
func (r *reader) readDir(rel string) ([]*rawFile, error) {
	entries, _, err := r.listDir(rel)
	if err != nil {
		return nil, err
	}
	fromScan := r.scanListed[rel]
	files := make([]*rawFile, 0, len(entries))
	var todo []int // of entries, to read
	var rels []string
	for i := range entries {
		e := &entries[i]
		if fromScan && e.last != nil {
			// A .yaml or .yml file, not hidden, as when last was set:
			// the entry's name and kind are what they were. Taken
			// first, this reads no name: at 100,000 files, each a
			// string elsewhere in memory, that is noticeable.
			files = append(files, e.last)
			r.cache.listedReuse++
			continue
		}
		name := e.name
		if strings.HasPrefix(name, ".") {
			continue // .gitkeep, editor files
		}
		if e.isDir() {
			r.fileWarning(rel+"/"+name, fmt.Sprintf("directory ignored: %s/ holds files only", rel))
			continue
		}
		if !isYAML(name) {
			r.fileWarning(rel+"/"+name, "file ignored: not a .yaml or .yml file")
			continue
		}
		child := e.rel
		if child == "" {
			child = rel + "/" + name // both clean: a directory of the layout, an entry's name
		}
		todo = append(todo, i)
		rels = append(rels, child)
		files = append(files, nil) // filled below
	}
	read, err := r.readMany(rels, fromScan)
	if err != nil {
		return nil, err
	}
	if len(read) > 0 {
		j := 0
		for k, f := range files {
			if f != nil {
				continue
			}
			files[k] = read[j]
			if e := &entries[todo[j]]; fromScan && read[j] != nil {
				switch {
				case read[j].reuse && read[j].entry != nil:
					e.last = read[j]
				case !read[j].reuse && r.cache.skipReads:
					r.t.fresh = append(r.t.fresh, freshRead{e, read[j]})
				}
			}
			j++
		}
	}
	out := files[:0]
	for _, f := range files {
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// readMany reads the files rels on all CPUs, keeping their order (a nil
// for a file that is not one: see readOptional); a repository of
// thousands of small files is bound by system calls.
func (r *reader) readMany(rels []string, fromScan bool) ([]*rawFile, error) {
	files := make([]*rawFile, len(rels))
	errs := make([]error, len(rels))
	onCPUs(len(rels), func() func(int) {
		return func(i int) { files[i], errs[i] = r.readOptional(rels[i], fromScan) }
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}

func (r *reader) readOverrides() error {
	entries, _, err := r.listDir(overridesDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.name
		child := path.Join(overridesDir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		isDir := e.isDir()
		if e.kind == fstat.KindLink {
			_, st, err := r.resolve(child)
			switch {
			case errors.Is(err, errOutside), errors.Is(err, errOutsideArea), errors.Is(err, errDangling):
				r.fileError(child, "symlink "+err.Error())
				continue
			case err != nil:
				return fmt.Errorf("reading %s: %w", filepath.Join(r.root, child), err)
			}
			isDir = st.IsDir()
		}
		if !isDir {
			r.fileWarning(child, "file ignored: overrides/ holds one directory per environment")
			continue
		}
		files, err := r.readDir(child)
		if err != nil {
			return err
		}
		r.t.overrides = append(r.t.overrides, files...)
	}
	return nil
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// baseName returns a file's name without directory and .yaml/.yml.
func baseName(rel string) string {
	b := path.Base(rel)
	return strings.TrimSuffix(strings.TrimSuffix(b, ".yaml"), ".yml")
}
