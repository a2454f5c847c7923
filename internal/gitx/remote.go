// Package gitx is the project's git plumbing, on go-git: how to reach a
// remote (https token or ssh key, URLs redacted in every error), the local
// bare clone kept per URL, fetching a branch with its own timeout, and the
// writes that the write-back needs: committing file changes onto a branch
// and pushing them without force. The read-only git source and the
// write-back both build on it.
package gitx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/flagpole/flagpole/internal/redact"
)

// Options says where a repository is and how to reach it. Only URL is
// required.
type Options struct {
	// URL is the repository: https://, ssh://, file://, scp-like
	// user@host:path, or a local path to a bare or non-bare repository
	// (made absolute).
	URL string
	// Token is the password for http(s) URLs (basic auth; user from the
	// URL, else "x-access-token"). Default: $FLAGPOLE_GIT_TOKEN.
	Token string
	// SSHKeyFile is a private key for ssh URLs (user from the URL, else
	// "git"); SSHKeyPassphrase decrypts it. Default: the ssh agent.
	SSHKeyFile, SSHKeyPassphrase string
	// SSHKnownHosts is the known_hosts file that checks the server's key.
	// Default: $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts.
	SSHKnownHosts string
	// FetchTimeout bounds each fetch. Default 1 min.
	FetchTimeout time.Duration
	// PushTimeout bounds each push. Default 1 min.
	PushTimeout time.Duration
	// Logger hears of a damaged local clone being recreated and of failed
	// repacks. Default: discard.
	Logger *slog.Logger
}

// Remote is a repository elsewhere and the credentials to reach it. It is
// safe for concurrent use.
type Remote struct {
	opts Options
	url  string // normalised: local paths made absolute
	auth transport.AuthMethod
}

// NewRemote applies the defaults of opts and prepares credentials (reading
// an ssh key if one is named); it does not touch the network.
func NewRemote(opts Options) (*Remote, error) {
	if opts.URL == "" {
		return nil, errors.New("no repository URL")
	}
	if opts.Token == "" {
		opts.Token = os.Getenv("FLAGPOLE_GIT_TOKEN")
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = time.Minute
	}
	if opts.PushTimeout <= 0 {
		opts.PushTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Remote{opts: opts, url: normaliseURL(opts.URL)}
	auth, err := authMethod(r.url, opts)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", r, r.Scrub(err))
	}
	r.auth = auth
	return r, nil
}

// String is the URL without credentials, for errors, logs and status.
func (r *Remote) String() string { return redact.URL(r.url) }

// Scrub returns err with the token and the URL's secrets replaced by
// redact.Mask. The original error stays reachable through errors.Is and
// errors.As. Every error this package returns has been scrubbed.
func (r *Remote) Scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := redact.Text(err.Error(), r.url)
	if t := r.opts.Token; len(t) >= 4 {
		msg = strings.ReplaceAll(msg, t, redact.Mask)
		msg = strings.ReplaceAll(msg, url.QueryEscape(t), redact.Mask)
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose message had secrets removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scpLike matches scp-style git addresses (user@host:path), whose user part
// is not a secret.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// IsURL reports whether addr names a repository by URL (scheme://…) or
// scp-style address (user@host:path) rather than by local path.
func IsURL(addr string) bool {
	return strings.Contains(addr, "://") || scpLike.MatchString(addr)
}

// normaliseURL makes local paths absolute; URLs are kept as given.
func normaliseURL(u string) string {
	if IsURL(u) {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

// CheckBranch returns an error unless name is a valid branch name.
func CheckBranch(name string) error {
	if name == "" || !plumbing.NewBranchReferenceName(name).IsBranch() ||
		strings.ContainsAny(name, " ~^:?*[\\") || strings.Contains(name, "..") ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") {
		return fmt.Errorf("invalid branch name %q", name)
	}
	return nil
}
