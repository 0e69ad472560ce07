package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"tandem/api"
)

// One trace shows a customer's message from the request to the AI's reply
// and the projection's write: the database's statements are children of the
// RecordCase activity, which descends from the workflow's handling of the
// update, which descends from the HTTP request — and it continues the
// trace the caller sent.
func TestATraceFollowsAMessage(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := newStackTraced(t, 0, tp, true)
	c := s.openCase(tenantA, sampleCase()).Case
	spans.Reset()

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(1)},
		"traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	if r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	var got tracetest.SpanStubs
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = spans.GetSpans()
		if find(got, "db.", "RunActivity:RecordCase") != nil {
			break
		}
	}
	byID := map[string]tracetest.SpanStub{}
	for _, sp := range got {
		byID[sp.SpanContext.SpanID().String()] = sp
	}
	leaf := find(got, "db.", "RunActivity:RecordCase")
	if leaf == nil {
		t.Fatalf("no database span under RecordCase among %s", names(got))
	}
	var chain []string
	for sp, ok := *leaf, true; ok; sp, ok = byID[sp.Parent.SpanID().String()] {
		if sp.SpanContext.TraceID().String() != callerTrace {
			t.Fatalf("span %s is in trace %s, not the caller's", sp.Name, sp.SpanContext.TraceID())
		}
		chain = append(chain, sp.Name)
	}
	path := strings.Join(chain, " < ")
	t.Logf("from the database up: %s", path)
	for _, want := range []string{"RunActivity:RecordCase", "post_message", "POST /v1/cases/:id/messages"} {
		if !strings.Contains(path, want) {
			t.Fatalf("the chain from the database up is %q: no %q", path, want)
		}
	}
	if !strings.HasSuffix(path, "POST /v1/cases/:id/messages") {
		t.Fatalf("the chain does not reach the request: %q", path)
	}
	if find(got, "RunActivity:AITurn", "") == nil {
		t.Fatalf("no span for the AI turn among %s", names(got))
	}
}

// find returns a span whose name starts with prefix and, if parent is not
// "", whose ancestor's name starts with parent.
func find(spans tracetest.SpanStubs, prefix, parent string) *tracetest.SpanStub {
	byID := map[string]tracetest.SpanStub{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID().String()] = sp
	}
	for i, sp := range spans {
		if !strings.HasPrefix(sp.Name, prefix) {
			continue
		}
		if parent == "" {
			return &spans[i]
		}
		for p, ok := byID[sp.Parent.SpanID().String()]; ok; p, ok = byID[p.Parent.SpanID().String()] {
			if strings.HasPrefix(p.Name, parent) {
				return &spans[i]
			}
		}
	}
	return nil
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name)
	}
	return strings.Join(out, ", ")
}

// A customer's message through a service key reads nothing from PostgreSQL
// before its update reaches the workflow: the key is checked from memory,
// the workflow ID derived from the case ID, the key's channels checked by
// the workflow's validator. A keyed message writes its key's first use
// (key retention needs it before the update); nothing else runs before.
func TestAMessageReadsNothingBeforeItsUpdate(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := newStackTraced(t, 0, tp, true)
	c := s.openCase(tenantA, sampleCase()).Case
	for i, key := range []string{"", "trace-key-1"} {
		spans.Reset()
		r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}, "Idempotency-Key", key)
		if r.Status != http.StatusOK {
			t.Fatalf("message: %d %s", r.Status, r.Body)
		}
		got := spans.GetSpans()
		req := find(got, "POST /v1/cases/:id/messages", "")
		update := find(got, "UpdateWorkflow", "POST /v1/cases/:id/messages")
		if req == nil || update == nil {
			t.Fatalf("no request or update span among %s", names(got))
		}
		var before []string
		for _, sp := range got {
			if !strings.HasPrefix(sp.Name, "db.") || !sp.StartTime.Before(update.StartTime) {
				continue
			}
			if sp.SpanContext.TraceID() != req.SpanContext.TraceID() {
				continue
			}
			for _, a := range sp.Attributes {
				if a.Key == "db.query.text" {
					before = append(before, a.Value.AsString())
				}
			}
		}
		want := 0
		if key != "" {
			want = 1
		}
		if len(before) != want {
			t.Fatalf("key %q: %d statements before the update, want %d: %q", key, len(before), want, before)
		}
		for _, q := range before {
			if !strings.HasPrefix(strings.TrimSpace(q), "INSERT INTO update_keys") {
				t.Fatalf("key %q: the database was asked %q before the update", key, q)
			}
		}
	}
}
