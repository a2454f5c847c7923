package source

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/flagpole/flagpole/internal/redact"
)

// authMethod picks credentials for the URL's protocol.
func (g *Git) authMethod() (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(g.url)
	if err != nil {
		return nil, fmt.Errorf("parsing the repository URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if g.opts.Token == "" {
			if ep.User != "" {
				return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}, nil
			}
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: g.opts.Token}, nil
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		if g.opts.SSHKeyFile == "" {
			return nil, nil // go-git falls back to the ssh agent
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, g.opts.SSHKeyFile, g.opts.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("reading ssh key %s: %w", g.opts.SSHKeyFile, err)
		}
		if kh := knownHostsFile(g.opts.SSHKnownHosts); kh != "" {
			cb, err := gitssh.NewKnownHostsCallback(kh)
			if err != nil {
				return nil, fmt.Errorf("reading known hosts %s: %w", kh, err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	default:
		return nil, nil
	}
}

// knownHostsFile returns the known_hosts file to use, or "" for go-git's
// default lookup.
func knownHostsFile(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv("SSH_KNOWN_HOSTS"); env != "" {
		return ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".ssh", "known_hosts")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// scrub returns err with the token and the URL's secrets replaced by
// redact.Mask. The original error stays reachable through errors.Is and
// errors.As.
func (g *Git) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := redact.Text(err.Error(), g.url)
	if t := g.opts.Token; len(t) >= 4 {
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
