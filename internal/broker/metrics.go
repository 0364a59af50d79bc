package broker

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the broker's Prometheus collectors; Register adds them to a
// registry (the HTTP server's /metrics).
type Metrics struct {
	connections   prometheus.Gauge
	partitions    prometheus.Gauge
	requests      *prometheus.CounterVec
	requestErrors prometheus.Counter
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	produceErrors *prometheus.CounterVec

	authentications *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	denied          *prometheus.CounterVec
}

func newMetrics() *Metrics {
	return &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "octopus_broker_connections", Help: "Open Kafka client connections.",
		}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "octopus_broker_partitions", Help: "Partitions hosted.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_broker_requests_total", Help: "Kafka requests received, by API.",
		}, []string{"api"}),
		requestErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "octopus_broker_malformed_requests_total", Help: "Requests that could not be decoded (the connection was closed).",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "octopus_broker_produced_bytes_total", Help: "Record batch bytes appended.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "octopus_broker_response_bytes_total", Help: "Response bytes written, record data included.",
		}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_broker_produce_errors_total", Help: "Partition produce errors, by Kafka error code.",
		}, []string{"code"}),
		authentications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_broker_authentications_total", Help: "Successful SASL authentications, by mechanism.",
		}, []string{"mechanism"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_broker_authentication_failures_total", Help: "Failed TLS handshakes and SASL authentications, by mechanism (TLS, unsupported, or the SASL mechanism).",
		}, []string{"mechanism"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "octopus_broker_authorization_denials_total", Help: "ACL checks that denied an operation, by API.",
		}, []string{"api"}),
	}
}

// Register adds every collector to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.connections, m.partitions, m.requests, m.requestErrors, m.bytesIn, m.bytesOut, m.produceErrors, m.authentications, m.authFailures, m.denied} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
