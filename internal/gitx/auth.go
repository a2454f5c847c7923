package gitx

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// authMethod picks credentials for the protocol of rawURL.
func authMethod(rawURL string, opts Options) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the repository URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if opts.Token == "" {
			if ep.User != "" {
				return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}, nil
			}
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: opts.Token}, nil
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		if opts.SSHKeyFile == "" {
			return nil, nil // go-git falls back to the ssh agent
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, opts.SSHKeyFile, opts.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("reading ssh key %s: %w", opts.SSHKeyFile, err)
		}
		if kh := knownHostsFile(opts.SSHKnownHosts); kh != "" {
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
