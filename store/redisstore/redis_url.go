package redisstore

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/internal/redact"
)

// topology is how the Redis behind a URL is deployed.
type topology int

const (
	topoSingle   topology = iota // one server (redis://, rediss://, unix://)
	topoSentinel                 // a master found through sentinels
	topoCluster                  // Redis Cluster: keys of one call must share a hash slot
)

// newRedisClient builds a go-redis client for one of the URL forms that
// New documents.
func newRedisClient(rawURL string) (client redis.UniversalClient, topo topology, err error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, topoSingle, fmt.Errorf("redis URL %s: missing scheme (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://)", redact.URL(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, topoSingle, fmt.Errorf("parsing redis URL %s: %s", redact.URL(rawURL), redact.Text(err.Error(), rawURL))
		}
		return redis.NewClient(opts), topoSingle, nil
	case "redis+sentinel", "rediss+sentinel":
		opts, err := parseSentinelURL(rawURL)
		if err != nil {
			return nil, topoSingle, fmt.Errorf("parsing sentinel URL %s: %s", redact.URL(rawURL), redact.Text(err.Error(), rawURL))
		}
		return redis.NewFailoverClient(opts), topoSentinel, nil
	case "redis+cluster", "rediss+cluster":
		opts, err := parseClusterURL(rawURL)
		if err != nil {
			return nil, topoSingle, fmt.Errorf("parsing cluster URL %s: %s", redact.URL(rawURL), redact.Text(err.Error(), rawURL))
		}
		return redis.NewClusterClient(opts), topoCluster, nil
	default:
		return nil, topoSingle, fmt.Errorf("redis URL %s: unknown scheme %q (want redis, rediss, unix, redis+sentinel, redis+cluster)", redact.URL(rawURL), scheme)
	}
}

// multiHostURL splits scheme+kind://[userinfo@]h1:p1,h2:p2/path?query into
// a go-redis URL for the first host (scheme redis or rediss), the further
// hosts, and the path segments.
func multiHostURL(rawURL string) (base *url.URL, more []string, path []string, err error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	tls := strings.HasPrefix(strings.ToLower(scheme), "rediss")
	authority, tail, _ := strings.Cut(rest, "/")
	var query string
	if i := strings.IndexByte(authority, '?'); i >= 0 {
		authority, query = authority[:i], authority[i+1:]
	} else if i := strings.IndexByte(tail, '?'); i >= 0 {
		tail, query = tail[:i], tail[i+1:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hosts = authority[:i], authority[i+1:]
	}
	hostList := strings.Split(hosts, ",")
	if hostList[0] == "" {
		return nil, nil, nil, fmt.Errorf("no host")
	}
	s := "redis://"
	if tls {
		s = "rediss://"
	}
	if userinfo != "" {
		s += userinfo + "@"
	}
	base, err = url.Parse(s + hostList[0] + "?" + query)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, seg := range strings.Split(tail, "/") {
		if seg != "" {
			path = append(path, seg)
		}
	}
	return base, hostList[1:], path, nil
}

// parseSentinelURL parses
// redis+sentinel://[user:pass@]h1:p1,h2:p2/master[/db][?sentinel_password=…&…].
// The user info authenticates to the Redis master and replicas; the
// sentinel_username and sentinel_password parameters to the sentinels.
func parseSentinelURL(rawURL string) (*redis.FailoverOptions, error) {
	base, more, path, err := multiHostURL(rawURL)
	if err != nil {
		return nil, err
	}
	if len(path) == 0 || len(path) > 2 {
		return nil, fmt.Errorf("want /mastername[/db] after the sentinel addresses")
	}
	q := base.Query()
	sentUser, sentPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	q.Set("master_name", path[0])
	if len(path) == 2 {
		q.Set("db", path[1])
	}
	for _, h := range more {
		q.Add("addr", h)
	}
	user := base.User
	base.User = nil
	base.RawQuery = q.Encode()
	opts, err := redis.ParseFailoverURL(base.String())
	if err != nil {
		return nil, err
	}
	opts.SentinelUsername, opts.SentinelPassword = sentUser, sentPass
	if user != nil {
		opts.Username = user.Username()
		opts.Password, _ = user.Password()
	}
	return opts, nil
}

// parseClusterURL parses redis+cluster://[user:pass@]h1:p1,h2:p2[?…].
func parseClusterURL(rawURL string) (*redis.ClusterOptions, error) {
	base, more, path, err := multiHostURL(rawURL)
	if err != nil {
		return nil, err
	}
	if len(path) > 0 {
		return nil, fmt.Errorf("a cluster URL has no path (Redis Cluster has only database 0)")
	}
	q := base.Query()
	for _, h := range more {
		q.Add("addr", h)
	}
	base.RawQuery = q.Encode()
	return redis.ParseClusterURL(base.String())
}
