package api

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// httpMetrics counts requests by route, method and status, and times them.
type httpMetrics struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
	// failingTasks counts updates that timed out on a workflow whose
	// workflow task keeps failing: a bug to look at, not an outage.
	failingTasks metric.Int64Counter
}

func newHTTPMetrics(m metric.Meter) *httpMetrics {
	if m == nil {
		m = noop.NewMeterProvider().Meter("")
	}
	requests, _ := m.Int64Counter("tandem_http_requests", metric.WithDescription("HTTP requests by route, method and status")) // a noop on error
	duration, _ := m.Float64Histogram("tandem_http_request_duration", metric.WithUnit("s"),
		metric.WithDescription("HTTP request latency by route and method"),
		metric.WithExplicitBucketBoundaries(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
	failing, _ := m.Int64Counter("tandem_workflow_task_failing", metric.WithDescription("updates answered 500 because their workflow's task keeps failing (a panic or non-determinism in the worker)"))
	return &httpMetrics{requests: requests, duration: duration, failingTasks: failing}
}

func (h *httpMetrics) record(c *gin.Context, took time.Duration) {
	route := c.FullPath()
	if route == "" {
		route = "unmatched" // the path itself would make a series per caller's typo
	}
	ctx := c.Request.Context()
	attrs := metric.WithAttributes(attribute.String("route", route), attribute.String("method", c.Request.Method))
	h.requests.Add(ctx, 1, attrs, metric.WithAttributes(attribute.String("status", strconv.Itoa(c.Writer.Status()))))
	h.duration.Record(ctx, took.Seconds(), attrs)
}
