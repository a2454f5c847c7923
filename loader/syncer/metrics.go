package syncer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Failure reasons, the values of the failures counter's reason label.
const (
	ReasonFetch    = "fetch"    // the source could not produce a revision
	ReasonValidate = "validate" // the revision does not load
	ReasonPublish  = "publish"  // the store refused the snapshots
)

// metrics are the syncer's Prometheus collectors.
type metrics struct {
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	failures    *prometheus.CounterVec
	version     *prometheus.GaugeVec
	leader      prometheus.Gauge
	// changedLoads counts revisions dropped because the directory changed
	// between the source's scan and the load (loader.ErrChanged).
	changedLoads prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flagpole_sync_duration_seconds",
			Help:    "Time to load, validate and publish one revision of the flags repository.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flagpole_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last revision published.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flagpole_sync_failures_total",
			Help: "Sync failures by reason: fetch, validate or publish.",
		}, []string{"reason"}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flagpole_sync_version_info",
			Help: "The rule-set version published per environment (value 1).",
		}, []string{"env", "version"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flagpole_sync_leader",
			Help: "1 while this syncer holds the leader lock (or needs none), else 0.",
		}),
		changedLoads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flagpole_sync_changed_during_load_total",
			Help: "Revisions of a directory source not published because a file changed between the scan and the load; the next revision follows.",
		}),
	}
	for _, r := range []string{ReasonFetch, ReasonValidate, ReasonPublish} {
		m.failures.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.duration, m.lastSuccess, m.failures, m.version, m.leader, m.changedLoads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering sync metrics: %w", err)
		}
	}
	return m, nil
}

// setVersions makes the version gauge show exactly versions (env → version).
func (m *metrics) setVersions(versions map[string]string) {
	m.version.Reset()
	for env, v := range versions {
		m.version.WithLabelValues(env, v).Set(1)
	}
}
