package redisstore

import (
	"strings"
	"testing"
)

// FuzzRedisURL feeds arbitrary URLs to the parsers: no panic, and a
// password given in the user info never appears in an error. (The
// redaction itself is fuzzed in internal/redact.)
func FuzzRedisURL(f *testing.F) {
	for _, s := range []string{
		"redis://u:s3cretpw@h:1/0", "redis+sentinel://u:s3cretpw@a:1,b:2/m/1?sentinel_password=x",
		"redis+cluster://u:s3cretpw@a:1,b:2", "unix:///tmp/r.sock?db=1", "rediss://:s3cretpw@h",
		"redis+sentinel://", "redis+cluster://@,", "redis://u:s3cretpw@h:1/0?password=s3cretpw",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		const pw = "s3cretpw"
		_, _, err := newRedisClientNoDial(raw)
		// Only a password in the authority is a password; elsewhere the
		// string is a path or a query value.
		authority := raw
		if _, rest, ok := strings.Cut(raw, "://"); ok {
			authority = rest
		}
		authority, _, _ = strings.Cut(authority, "/")
		authority, _, _ = strings.Cut(authority, "?")
		if !strings.Contains(authority, ":"+pw+"@") {
			return
		}
		if err != nil && strings.Contains(err.Error(), ":"+pw+"@") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
}

// newRedisClientNoDial builds (and closes) a client without connecting.
func newRedisClientNoDial(raw string) (any, bool, error) {
	c, topo, err := newRedisClient(raw)
	if c != nil {
		c.Close()
	}
	return c, topo == topoCluster, err
}
