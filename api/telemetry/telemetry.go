// Package telemetry gathers Tandem's metrics in one Prometheus registry: the
// API's (HTTP), the workflows' and activities' (through the Temporal SDK's
// metrics handler, which is replay-aware) and the SDK's own worker and
// client metrics, all recorded with OpenTelemetry and exported for
// Prometheus to scrape at /metrics.
package telemetry

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Metrics is one process's metrics.
type Metrics struct {
	Registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	log      *slog.Logger
}

// New makes the registry, with the Go runtime's and the process's own
// collectors beside Tandem's.
func New(log *slog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	return &Metrics{Registry: reg, provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), log: log}, nil
}

// WatchPool exports the PostgreSQL connection pool's figures (go_sql_*,
// db_name "tandem"): connections in use and idle, and how often and how
// long a query waited for one, the sign of a pool too small for the load.
func (m *Metrics) WatchPool(db *sql.DB) error {
	return m.Registry.Register(collectors.NewDBStatsCollector(db, "tandem"))
}

// Meter records the API's metrics.
func (m *Metrics) Meter(name string) metric.Meter { return m.provider.Meter(name) }

// Temporal is the SDK's metrics handler: the worker's and client's metrics,
// and what workflows and activities record through it.
func (m *Metrics) Temporal() client.MetricsHandler {
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                m.provider.Meter("temporal"),
		UseMonotonicCounters: true,
		OnError:              func(err error) { m.log.Warn("metric", "err", err) },
	})
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Shutdown flushes and stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }
