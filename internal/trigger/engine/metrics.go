package engine

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/octofabric/octopus/internal/trigger"
)

// metrics are the engine's Prometheus collectors, labelled by trigger ID.
type metrics struct {
	invocations *prometheus.CounterVec   // trigger, status, code
	latency     *prometheus.HistogramVec // trigger
	records     *prometheus.CounterVec   // trigger, result
	conc        *prometheus.GaugeVec     // trigger
	backlogs    *prometheus.GaugeVec     // trigger
	runningG    prometheus.Gauge
	logErrors   prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_trigger_invocations_total",
			Help: "Calls of trigger actions and what became of failed batches, by status (ok, retry, failed, dead_lettered, dropped) and HTTP status code (0: no answer).",
		}, []string{"trigger", "status", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "octopus_trigger_invocation_duration_seconds",
			Help:    "Duration of trigger action calls, from sending the request to reading the answer.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18), // 0.5 ms to 65 s
		}, []string{"trigger"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_trigger_records_total",
			Help: "Records read by triggers, by whether the filter matched them (matched) or not (filtered).",
		}, []string{"trigger", "result"}),
		conc: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "octopus_trigger_concurrency",
			Help: "Batches a trigger may have in flight at once on this instance (moved by the scaling rule).",
		}, []string{"trigger"}),
		backlogs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "octopus_trigger_backlog_records",
			Help: "Records of a trigger's partitions on this instance not finished yet.",
		}, []string{"trigger"}),
		runningG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "octopus_triggers_running",
			Help: "Enabled triggers this instance runs.",
		}),
		logErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "octopus_trigger_log_write_errors_total",
			Help: "Invocation records that could not be written to the invocation log topic.",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.invocations, m.latency, m.records, m.conc, m.backlogs, m.runningG, m.logErrors} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) invocation(inv trigger.Invocation) {
	m.invocations.WithLabelValues(inv.Trigger, inv.Status, strconv.Itoa(inv.HTTPStatus)).Inc()
	if inv.Status == trigger.StatusOK || inv.Status == trigger.StatusRetry || inv.Status == trigger.StatusFailed {
		m.latency.WithLabelValues(inv.Trigger).Observe(inv.LatencyMs / 1000)
	}
}

// recordCounters are one trigger's record counters, looked up once.
type recordCounters struct {
	matched, filtered prometheus.Counter
}

func (m *metrics) recordCounters(id string) recordCounters {
	return recordCounters{matched: m.records.WithLabelValues(id, "matched"),
		filtered: m.records.WithLabelValues(id, "filtered")}
}

// triggerGauges are one running trigger's gauges, looked up once and set
// only when their value changes (ticks of idle triggers stay cheap).
type triggerGauges struct {
	conc, backlog prometheus.Gauge
	lastConc      int
	lastBacklog   int64
}

func (m *metrics) triggerGauges(id string) *triggerGauges {
	return &triggerGauges{conc: m.conc.WithLabelValues(id), backlog: m.backlogs.WithLabelValues(id),
		lastConc: -1, lastBacklog: -1}
}

// set is called by one goroutine at a time (the engine's tick).
func (g *triggerGauges) set(conc int, backlog int64) {
	if conc != g.lastConc {
		g.conc.Set(float64(conc))
		g.lastConc = conc
	}
	if backlog != g.lastBacklog {
		g.backlog.Set(float64(backlog))
		g.lastBacklog = backlog
	}
}

func (m *metrics) running(n int) { m.runningG.Set(float64(n)) }

// forget drops a stopped trigger's gauges (its counters stay: they count
// what happened).
func (m *metrics) forget(id string) {
	m.conc.DeleteLabelValues(id)
	m.backlogs.DeleteLabelValues(id)
}
