package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"tandem/api"
	"tandem/workflows"
)

// After a story — an AI answer, an SLA warning and breach, an escalation, a
// person's claim, reply and resolution, a refund paid — /metrics holds each
// series an operator watches, with the labels that tell them apart, beside
// the Temporal SDK's own.
func TestMetricsAfterAStory(t *testing.T) {
	t.Parallel() // it waits out an SLA target
	s := newStack(t)
	shortSLA(t, s, "escalate")
	rcv := newReceiver(t)
	if err := s.store.AllowPrivateWebhooks(t.Context(), tenantB, true); err != nil {
		t.Fatal(err)
	}
	if r := s.do("POST", "/v1/admin/webhooks", tenantB+"/admin+totp", api.WebhookRequest{URL: rcv.srv.URL, EventTypes: []string{"case.opened"}}); r.Status != http.StatusCreated {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	// The person's path in a tenant whose SLA does not run out meanwhile.
	answered := s.openCase(tenantB, api.OpenCaseRequest{CustomerRef: "cust-m", Channel: "web_chat", Message: inScope(0)})
	if answered.Reply == nil || answered.Reply.AuthorKind != workflows.AuthorAI {
		t.Fatalf("the AI did not answer: %+v", answered)
	}
	breached := s.openCase(tenantA, sampleCase()).Case
	s.waitCase(breached.ID, func(c api.CaseJSON) bool {
		return c.Status == workflows.StatusQueued && c.Escalation == workflows.ReasonSLABreach
	})
	s.handTo(tenantB+"/agent", answered.Case.ID)
	if r := s.do("POST", "/v1/cases/"+answered.Case.ID+"/reply", tenantB+"/agent", api.PostMessageRequest{Body: "It is on its way."}); r.Status != http.StatusOK {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+answered.Case.ID+"/resolve", tenantB+"/agent", api.ResolveRequest{Code: workflows.ResolutionCodes[0]}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if err := s.store.PutOrder(t.Context(), tenantB, "M-1", "cust-m", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, refund := s.askRefund(answered.Case.ID, tenantB, refundBody("M-1", "10.00"), "m")
	s.waitRefund(refund.RefundID, tenantB, final)

	want := map[string]map[string]string{
		"tandem_http_requests_total":                       {"route": "/v1/cases", "method": "POST", "status": "201"},
		"tandem_http_request_duration_seconds":             {"route": "/v1/cases", "method": "POST"},
		"tandem_cases_opened_total":                        {},
		"go_sql_max_open_connections":                      {"db_name": "tandem"}, // the pool, and its waits beside
		"tandem_cases_escalated_total":                     {"reason": workflows.ReasonSLABreach},
		"tandem_cases_resolved_total":                      {"by": "person"},
		"tandem_sla_warnings_total":                        {},
		"tandem_sla_breaches_total":                        {},
		"tandem_ai_turn_latency_seconds":                   {"engine": "local", "outcome": "answered"},
		"tandem_refunds_total":                             {"status": workflows.RefundPaid, "kind": "refund"},
		"temporal_workflow_task_execution_latency_seconds": {},
		"tandem_webhook_deliveries_total":                  {"outcome": "delivered"},
		"tandem_webhook_delivery_lag_seconds":              {},
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		families, err := s.metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for name, labels := range want {
			if !hasSeries(families, name, labels) {
				missing = append(missing, name+" "+labelText(labels))
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var names []string
			for _, f := range families {
				names = append(names, f.GetName())
			}
			t.Fatalf("missing series %v; have %s", missing, strings.Join(names, " "))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// And so /metrics says, in Prometheus's text format.
	rec := httptest.NewRecorder()
	s.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for name := range want {
		if !strings.Contains(rec.Body.String(), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func hasSeries(families []*dto.MetricFamily, name string, labels map[string]string) bool {
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil && c.GetValue() < 1 {
				continue
			}
			if h := m.GetHistogram(); h != nil && h.GetSampleCount() < 1 {
				continue
			}
			return true
		}
	}
	return false
}

func labelText(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
