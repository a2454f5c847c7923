package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// startCluster starts masters cluster-enabled redis-servers, gives each an
// equal range of slots, joins them and waits until every node reports
// cluster_state:ok. It returns the nodes and the redis+cluster:// URL.
func startCluster(ctx context.Context, g *group, masters int) ([]*proc, string, error) {
	var nodes []*proc
	var addrs []string
	var buses []int
	for i := range masters {
		bus, err := freePort()
		if err != nil {
			return nil, "", err
		}
		p, err := startRedis("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "5000")
		if err != nil {
			return nil, "", fmt.Errorf("starting cluster node %d: %w", i, err)
		}
		p.name = fmt.Sprintf("redis-server %d", i+1)
		nodes = append(nodes, g.add(p))
		addrs = append(addrs, p.addr)
		buses = append(buses, bus)
	}
	clients := make([]*redis.Client, masters)
	for i, a := range addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	per := clusterSlots / masters
	for i, c := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == masters-1 {
			hi = clusterSlots - 1
		}
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return nil, "", fmt.Errorf("CLUSTER ADDSLOTSRANGE on %s: %w", addrs[i], err)
		}
	}
	for i, a := range addrs[1:] {
		host, port, _ := strings.Cut(a, ":")
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, buses[i+1]).Err(); err != nil {
			return nil, "", fmt.Errorf("CLUSTER MEET %s: %w", a, err)
		}
	}
	deadline := time.Now().Add(startTimeout)
	for i, c := range clients {
		for {
			info, err := c.Do(ctx, "CLUSTER", "INFO").Text()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				break
			}
			if time.Now().After(deadline) {
				return nil, "", fmt.Errorf("cluster node %s not ok within %s: %v %.200s", addrs[i], startTimeout, err, info)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, "", err
			}
		}
	}
	return nodes, "redis+cluster://" + strings.Join(addrs, ","), nil
}

// usedMemory returns a redis-server's used_memory in bytes.
func usedMemory(ctx context.Context, addr string) (int64, error) {
	return infoInt(ctx, addr, "memory", "used_memory")
}

// infoInt returns one integer field of a section of a redis-server's INFO.
func infoInt(ctx context.Context, addr, section, field string) (int64, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO of %s", field, addr)
}
