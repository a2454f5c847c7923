package bearer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the bearer's own Prometheus metrics.
type metrics struct {
	eventsSent prometheus.Counter
	dropped    prometheus.Counter
	requests   *prometheus.CounterVec   // by route and status code
	duration   *prometheus.HistogramVec // by route
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		eventsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flagpole", Subsystem: "bearer", Name: "sse_events_sent_total",
			Help: "SSE events (put, patch, ping) written to clients.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flagpole", Subsystem: "bearer", Name: "sse_clients_dropped_total",
			Help: "SSE clients disconnected because they fell behind or their key was removed.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flagpole", Subsystem: "bearer", Name: "requests_total",
			Help: "HTTP requests by route and status code (evaluate and OFREP included).",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "flagpole", Subsystem: "bearer", Name: "request_duration_seconds",
			Help:    "Duration of non-streaming HTTP requests by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.eventsSent, m.dropped, m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// registerClientGauge registers the gauge of open SSE streams, read from
// the hubs when scraped. Registration errors are ignored: the gauge is
// registered after the other metrics succeeded, and a duplicate can only
// come from a second Server on the same Registerer, which newMetrics
// already refused.
func (m *metrics) registerClientGauge(reg prometheus.Registerer, s *Server) {
	_ = reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "flagpole", Subsystem: "bearer", Name: "sse_clients",
		Help: "Open SSE streams (rule-set and evaluated) over all environments.",
	}, func() float64 {
		var n int64
		for _, h := range *s.hubs.Load() {
			n += h.streams.Load()
		}
		return float64(n)
	}))
}
