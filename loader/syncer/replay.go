package syncer

import (
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Replay protection for webhook deliveries. Forges give every delivery an
// id and resend it with the same id when asked ("Redeliver"); an attacker
// who captured a signed delivery can also resend it. A verified delivery
// whose id was seen within the window is acknowledged without a fetch.
const (
	// DefaultReplayWindow is how long a delivery id is remembered.
	DefaultReplayWindow = 10 * time.Minute
	// MaxReplayIDs bounds the ids remembered; the oldest go first. Only
	// verified deliveries are remembered, so filling it takes the secret.
	MaxReplayIDs = 10000
	// maxDeliveryID is the longest id kept; longer ones are cut.
	maxDeliveryID = 128
)

// deliveryHeaders carry a delivery's id: GitHub, Gitea, Gogs, GitLab.
var deliveryHeaders = []string{"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gogs-Delivery", "X-Gitlab-Event-UUID", "Idempotency-Key"}

// deliveryID returns the delivery's id, or "" when it has none.
func deliveryID(h http.Header) string {
	for _, name := range deliveryHeaders {
		if id := h.Get(name); id != "" {
			if len(id) > maxDeliveryID {
				id = id[:maxDeliveryID]
			}
			return name + ":" + id
		}
	}
	return ""
}

// replays remembers delivery ids for a window, at most MaxReplayIDs.
type replays struct {
	mu     sync.Mutex
	window time.Duration
	clock  clockwork.Clock
	seen   map[string]time.Time
	order  []seenID // in the order seen, oldest first
}

type seenID struct {
	id string
	at time.Time
}

func newReplays(window time.Duration, clock clockwork.Clock) *replays {
	if window <= 0 {
		window = DefaultReplayWindow
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &replays{window: window, clock: clock, seen: make(map[string]time.Time)}
}

// replayed records id and reports whether it was seen within the window.
func (r *replays) replayed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	// Forget what left the window, and the oldest beyond the bound.
	for len(r.order) > 0 {
		oldest := r.order[0]
		if now.Sub(oldest.at) < r.window && len(r.order) < MaxReplayIDs {
			break
		}
		if r.seen[oldest.id] == oldest.at { // not seen again since
			delete(r.seen, oldest.id)
		}
		r.order = r.order[1:]
	}
	if at, ok := r.seen[id]; ok && now.Sub(at) < r.window {
		return true
	}
	r.seen[id] = now
	r.order = append(r.order, seenID{id, now})
	return false
}
