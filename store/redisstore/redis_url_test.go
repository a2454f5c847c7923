package redisstore

import (
	"slices"
	"testing"
	"time"
)

func TestParseSentinelURL(t *testing.T) {
	o, err := parseSentinelURL("redis+sentinel://app:pw@s1:26379,s2:26380,s3:26381/mymaster/2?sentinel_password=spw&dial_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "mymaster" || o.DB != 2 {
		t.Errorf("master %q db %d", o.MasterName, o.DB)
	}
	if !slices.Equal(o.SentinelAddrs, []string{"s1:26379", "s2:26380", "s3:26381"}) {
		t.Errorf("sentinels = %v", o.SentinelAddrs)
	}
	if o.Username != "app" || o.Password != "pw" || o.SentinelPassword != "spw" {
		t.Errorf("credentials: user %q pass %q sentinel pass %q", o.Username, o.Password, o.SentinelPassword)
	}
	if o.DialTimeout != 3*time.Second || o.TLSConfig != nil {
		t.Errorf("dial timeout %s, tls %v", o.DialTimeout, o.TLSConfig)
	}
	tlsOpts, err := parseSentinelURL("rediss+sentinel://s1:26379/m")
	if err != nil || tlsOpts.TLSConfig == nil {
		t.Errorf("rediss+sentinel: tls %v, err %v", tlsOpts, err)
	}
}

func TestParseClusterURL(t *testing.T) {
	o, err := parseClusterURL("redis+cluster://u:pw@n1:7000,n2:7001,n3:7002?read_only=true")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Addrs, []string{"n1:7000", "n2:7001", "n3:7002"}) || o.Username != "u" || o.Password != "pw" || !o.ReadOnly {
		t.Errorf("options = addrs %v user %q pass %q readonly %v", o.Addrs, o.Username, o.Password, o.ReadOnly)
	}
}
