package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots in a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters only (no replicas) owned by a test:
// each node is a Server with cluster mode on, its own temporary directory
// and nodes.conf, a free client port and a free cluster-bus port.
type Cluster struct {
	// Nodes are the masters; node i serves an equal share of the slots, in
	// order.
	Nodes []*Server
	buses []int // cluster-bus port of each node
}

// StartCluster starts masters cluster-enabled redis-servers, assigns the
// 16384 slots in equal ranges, joins them with CLUSTER MEET and waits until
// every node reports cluster_state:ok, knows every other node and passes
// pub/sub messages to all the others. The nodes
// stop when the test ends. It skips the test if redis-server is not
// installed.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redistest: StartCluster needs at least one master, got %d", masters)
	}
	bin := lookPath(t, "redis-server")
	c := &Cluster{}
	for i := range masters {
		s := &Server{t: t, bin: bin, dir: t.TempDir()}
		var bus int
		err := s.startFree(func(int) (err error) {
			bus, err = freePort()
			s.extra = []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "5000",
			}
			return err
		})
		if err != nil {
			t.Fatalf("redistest: starting cluster node %d: %v", i, err)
		}
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
		c.buses = append(c.buses, bus)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.form(ctx); err != nil {
		t.Fatalf("redistest: forming a cluster of %d masters: %v", masters, err)
	}
	return c
}

// URL is a redis+cluster:// URL listing every node.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}

// Do runs one command on node i and returns its reply, for tests that
// inspect the cluster (CLUSTER KEYSLOT, CLUSTER INFO).
func (c *Cluster) Do(ctx context.Context, i int, args ...any) (any, error) {
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr(), MaxRetries: -1})
	defer cl.Close()
	return cl.Do(ctx, args...).Result()
}

// form assigns slots, introduces the nodes and waits for a healthy cluster.
func (c *Cluster) form(ctx context.Context) error {
	n := len(c.Nodes)
	for i := range c.Nodes {
		lo, hi := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		if _, err := c.Do(ctx, i, "CLUSTER", "ADDSLOTSRANGE", lo, hi); err != nil {
			return fmt.Errorf("node %s: CLUSTER ADDSLOTSRANGE %d %d: %w", c.Nodes[i].Addr(), lo, hi, err)
		}
	}
	// Every node meets every other rather than waiting for gossip to
	// spread the news, which takes seconds.
	for i := range c.Nodes {
		for j := range c.Nodes {
			if i == j {
				continue
			}
			if _, err := c.Do(ctx, i, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[j].port, c.buses[j]); err != nil {
				return fmt.Errorf("node %s: CLUSTER MEET %s: %w", c.Nodes[i].Addr(), c.Nodes[j].Addr(), err)
			}
		}
	}
	for i := range c.Nodes {
		if err := c.waitHealthy(ctx, i); err != nil {
			return err
		}
	}
	return c.settle(ctx)
}

// settle waits until a PUBLISH on any node reaches subscribers on every
// node at once. Right after the cluster reports ok its bus links are still
// being set up: messages to other nodes are dropped or arrive late, which a
// test would read as a stale change.
func (c *Cluster) settle(ctx context.Context) error {
	const channel = "redistest:settle"
	subs := make([]*redis.PubSub, len(c.Nodes))
	for i, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		defer cl.Close()
		subs[i] = cl.Subscribe(ctx, channel)
		defer subs[i].Close()
		if _, err := subs[i].Receive(ctx); err != nil {
			return fmt.Errorf("node %s: subscribing to %s: %w", n.Addr(), channel, err)
		}
	}
	for round := 0; ; round++ {
		tag := strconv.Itoa(round) + ":"
		for i := range c.Nodes {
			if _, err := c.Do(ctx, i, "PUBLISH", channel, tag+strconv.Itoa(i)); err != nil {
				return fmt.Errorf("node %s: PUBLISH %s: %w", c.Nodes[i].Addr(), channel, err)
			}
		}
		settled := true
		for i, ps := range subs {
			if got := receiveRound(ctx, ps, tag, len(c.Nodes)); got < len(c.Nodes) {
				settled = false
				if ctx.Err() != nil {
					return fmt.Errorf("node %s: heard %d of %d nodes' messages in round %d", c.Nodes[i].Addr(), got, len(c.Nodes), round)
				}
			}
		}
		if settled {
			return nil
		}
	}
}

// receiveRound counts the messages starting with tag that ps receives,
// up to want, giving up after 200 ms of silence. Older rounds' messages are
// skipped.
func receiveRound(ctx context.Context, ps *redis.PubSub, tag string, want int) int {
	got := 0
	for got < want {
		msg, err := ps.ReceiveTimeout(ctx, 200*time.Millisecond)
		if err != nil {
			return got
		}
		if m, ok := msg.(*redis.Message); ok && strings.HasPrefix(m.Payload, tag) {
			got++
		}
	}
	return got
}

// waitHealthy polls CLUSTER INFO on node i until the cluster is ok and the
// node knows all the others.
func (c *Cluster) waitHealthy(ctx context.Context, i int) error {
	want := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
	var last string
	for {
		info, err := c.Do(ctx, i, "CLUSTER", "INFO")
		if s, ok := info.(string); ok && err == nil {
			last = s
			if strings.Contains(s, "cluster_state:ok") && strings.Contains(s, want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not healthy in time (last CLUSTER INFO %q, err %v): %s", c.Nodes[i].Addr(), last, err, c.Nodes[i].logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
