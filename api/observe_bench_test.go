package api_test

import (
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"tandem/api"
)

// BenchmarkMessageObservability is what metrics and tracing cost a
// customer's message, against the same stack without them, in one process:
// go test -run '^$' -bench MessageObservability -benchtime 400x ./api/
// (spans are batched to an exporter that drops them: the cost measured is
// making and batching them, not a collector's network).
func BenchmarkMessageObservability(b *testing.B) {
	for _, v := range []struct {
		name             string
		metrics, tracing bool
	}{{"off", false, false}, {"metrics", true, false}, {"metrics+tracing", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			var tp trace.TracerProvider
			if v.tracing {
				provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				b.Cleanup(func() { _ = provider.Shutdown(b.Context()) })
				tp = provider
			}
			s := newStackTraced(b, 0, tp, v.metrics)
			var cases []string
			for i := range 20 {
				cases = append(cases, s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-bench", Channel: "web_chat", Message: inScope(i)}).Case.ID)
			}
			b.ResetTimer()
			for i := range b.N {
				if r := s.do("POST", "/v1/cases/"+cases[i%len(cases)]+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
					b.Fatalf("message: %d %s", r.Status, r.Body)
				}
			}
		})
	}
}
