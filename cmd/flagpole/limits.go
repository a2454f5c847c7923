package main

import (
	"flag"
	"os"
	"time"

	"github.com/flagpole/flagpole/bearer"
)

// limitFlags are the bearer's connection, stream and timeout limits, on
// the roles that run a bearer (serve and bearer).
type limitFlags struct {
	requestTimeout                      time.Duration
	idleTimeout                         time.Duration
	maxConns, maxConnsPerAddr           int
	maxStreamsPerKey, maxStreamsPerAddr int
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.requestTimeout, "request-timeout", bearer.DefaultRequestTimeout, "time to read, evaluate and answer one non-streaming request")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", bearer.DefaultIdleTimeout, "close keep-alive connections idle this long (streams are exempt)")
	fs.IntVar(&l.maxConns, "max-conns", bearer.DefaultMaxConns, "most open connections; more are closed at once")
	fs.IntVar(&l.maxConnsPerAddr, "max-conns-per-addr", bearer.DefaultMaxConnsPerAddr, "most open connections from one IP address (raise it behind a proxy)")
	fs.IntVar(&l.maxStreamsPerKey, "max-streams-per-key", bearer.DefaultMaxStreamsPerKey, "most open SSE streams of one SDK key; more get 429")
	fs.IntVar(&l.maxStreamsPerAddr, "max-streams-per-addr", bearer.DefaultMaxStreamsPerAddr, "most open SSE streams from one IP address; more get 429")
}

// eventTokenSecretEnv names the environment variable that holds the key
// signing OFREP event stream tokens: the same on every bearer behind one
// load balancer, at least 32 bytes. Unset: a random key per process.
const eventTokenSecretEnv = "FLAGPOLE_EVENT_TOKEN_SECRET"

// apply sets the limits in o, and the event stream token key of
// eventTokenSecretEnv.
func (l *limitFlags) apply(o bearer.Options) bearer.Options {
	if v := os.Getenv(eventTokenSecretEnv); v != "" {
		o.EventTokenSecret = []byte(v)
	}
	o.RequestTimeout, o.IdleTimeout = l.requestTimeout, l.idleTimeout
	o.MaxConns, o.MaxConnsPerAddr = l.maxConns, l.maxConnsPerAddr
	o.MaxStreamsPerKey, o.MaxStreamsPerAddr = l.maxStreamsPerKey, l.maxStreamsPerAddr
	return o
}
