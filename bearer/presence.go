package bearer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/flagpole/flagpole/store"
)

// presence keeps this bearer's record in the store (Options.Presence).
type presence struct {
	s       *Server
	info    store.BearerInfo // ID, Host, Address, Version, Started
	kick    chan struct{}    // a rule set changed: write the record now
	stopped chan struct{}    // closed when the heartbeat loop has ended
}

// newPresence returns the presence of s, with an id of hostname, pid and
// a random suffix (two bearers on one host, or a pid reused in a new
// container, never share one).
func newPresence(s *Server) *presence {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	p := &presence{s: s, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	p.info = store.BearerInfo{
		ID:      fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r[:])),
		Host:    host,
		Address: s.opts.Advertise,
		Version: s.opts.BinaryVersion,
		Started: s.opts.Clock.Now().UTC(),
	}
	return p
}

// ID is this bearer's id in the store's presence records.
func (s *Server) ID() string { return s.presence.info.ID }

// Record returns this bearer's presence record as of now.
func (s *Server) Record() store.BearerInfo {
	b := s.presence.info
	b.LastSeen = s.opts.Clock.Now().UTC()
	b.Envs = map[string]store.BearerEnv{}
	for env, h := range *s.hubs.Load() {
		b.Envs[env] = store.BearerEnv{Version: h.cur.Load().version, Streams: store.StreamCounts{
			SDK: h.kinds[streamSDK].Load(), Evaluated: h.kinds[streamEvaluated].Load(), OFREP: h.kinds[streamOFREP].Load(),
		}}
	}
	b.Clip()
	return b
}

// changed asks for the record to be written now (a rule set was loaded or
// removed), without waiting for the next heartbeat.
func (p *presence) changed() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run writes the record at once, then every HeartbeatInterval and after
// each change, until ctx is done; then it removes the record. Write errors
// are logged (once per run of failures) and retried at the next beat: the
// record only feeds the dashboard and status.
func (p *presence) run(ctx context.Context) {
	defer close(p.stopped)
	st := p.s.opts.Presence
	if st == nil {
		return
	}
	t := p.s.opts.Clock.NewTicker(p.s.opts.HeartbeatInterval)
	defer t.Stop()
	failing := false
	for {
		rec := p.s.Record()
		err := st.PutBearer(ctx, &rec, p.s.opts.BearerTTL)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			p.s.log.Warn("recording this bearer's presence in the store; retrying at each heartbeat", "id", rec.ID, "error", err)
			failing = true
		case err == nil && failing:
			p.s.log.Info("recording this bearer's presence in the store again", "id", rec.ID)
			failing = false
		}
		select {
		case <-ctx.Done():
			p.remove(st)
			return
		case <-t.Chan():
		case <-p.kick:
		}
	}
}

// remove deletes the record of a bearer that stops, within a short bound
// of its own: the context of Run is already done.
func (p *presence) remove(st store.Presence) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := st.RemoveBearer(ctx, p.info.ID); err != nil {
		p.s.log.Warn("removing this bearer's presence record; it expires by itself", "id", p.info.ID, "ttl", p.s.opts.BearerTTL, "error", err)
	}
}
