package store

import (
	"context"
	"time"
)

var _ Presence = (*Memory)(nil)

// memBearer is a bearer record and when it expires (real time: a record
// lives its ttl whatever clock the bearer keeps).
type memBearer struct {
	info    BearerInfo
	expires time.Time
}

// PutBearer implements Presence.
func (m *Memory) PutBearer(_ context.Context, b *BearerInfo, ttl time.Duration) error {
	if err := b.Check(); err != nil {
		return err
	}
	rec := memBearer{info: *b, expires: time.Now().Add(ttl)}
	rec.info.Envs = make(map[string]BearerEnv, len(b.Envs))
	for env, e := range b.Envs {
		rec.info.Envs[env] = e
	}
	m.pmu.Lock()
	defer m.pmu.Unlock()
	m.expireBearers(time.Now())
	if m.bearers == nil {
		m.bearers = map[string]memBearer{}
	}
	m.bearers[b.ID] = rec
	return nil
}

// RemoveBearer implements Presence.
func (m *Memory) RemoveBearer(_ context.Context, id string) error {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	delete(m.bearers, id)
	return nil
}

// Bearers implements Presence.
func (m *Memory) Bearers(context.Context) ([]BearerInfo, error) {
	m.pmu.Lock()
	m.expireBearers(time.Now())
	list := make([]BearerInfo, 0, len(m.bearers))
	for _, rec := range m.bearers {
		list = append(list, rec.info)
	}
	m.pmu.Unlock()
	SortBearers(list)
	if len(list) > MaxBearers {
		list = list[:MaxBearers]
	}
	return list, nil
}

// expireBearers drops the records whose ttl passed. m.pmu is held.
func (m *Memory) expireBearers(now time.Time) {
	for id, rec := range m.bearers {
		if !now.Before(rec.expires) {
			delete(m.bearers, id)
		}
	}
}
