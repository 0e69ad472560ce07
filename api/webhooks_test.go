package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/api"
	"tandem/workflows"
)

// receiver is a tenant's webhook endpoint on loopback: it checks every
// delivery's signature against the secrets it knows and keeps what arrived.
type receiver struct {
	mu      sync.Mutex
	secrets []string
	failing bool
	got     []delivered
	bad     []string
	srv     *httptest.Server
}

type delivered struct {
	ID, Type, CaseID string
	Data             map[string]any
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		for _, s := range r.secrets {
			if err := webhooks.Verify(s, req.Header, body, time.Now()); err != nil {
				r.bad = append(r.bad, req.Header.Get("webhook-id")+": "+err.Error())
			}
		}
		var ev struct {
			ID, Type string
			CaseID   string `json:"case_id"`
			Data     map[string]any
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get("webhook-id") {
			r.bad = append(r.bad, "body: "+string(body))
		}
		r.got = append(r.got, delivered{ID: ev.ID, Type: ev.Type, CaseID: ev.CaseID, Data: ev.Data})
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) set(failing bool) {
	r.mu.Lock()
	r.failing = failing
	r.mu.Unlock()
}

// of is what arrived about a case, in arrival order.
func (r *receiver) of(caseID string) []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivered
	for _, d := range r.got {
		if d.CaseID == caseID {
			out = append(out, d)
		}
	}
	return out
}

func (r *receiver) waitFor(t *testing.T, caseID, typ string) []delivered {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got := r.of(caseID)
		if slices.ContainsFunc(got, func(d delivered) bool { return d.Type == typ }) {
			return got
		}
	}
	t.Fatalf("no %s for case %s; got %v", typ, caseID, types(r.of(caseID)))
	return nil
}

func types(ds []delivered) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Type)
	}
	return out
}

// Each event arrives once, in order, signed: a case from the AI's answer
// through escalation, a person's claim and reply to resolution. Then the
// receiver fails for a while and gets every event after it recovers; a
// rotated secret signs beside the old one; a delivery can be sent again.
func TestWebhooksDeliverACaseInOrder(t *testing.T) {
	s := newStack(t)
	if err := s.store.AllowPrivateWebhooks(t.Context(), tenantA, true); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	admin := tenantA + "/admin+totp"
	var created api.CreatedWebhook
	r := s.do("POST", "/v1/admin/webhooks", admin, api.WebhookRequest{URL: rcv.srv.URL + "/hooks", EventTypes: store.WebhookEventTypes})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, webhooks.SecretPrefix) || !created.Webhook.Enabled {
		t.Fatalf("registered: %+v", created)
	}
	rcv.mu.Lock()
	rcv.secrets = []string{created.Secret}
	rcv.mu.Unlock()

	// The story.
	ex := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-wh", Channel: "web_chat", Message: inScope(0)})
	id := ex.Case.ID
	if r := s.do("POST", "/v1/cases/"+id+"/messages", tenantA, api.PostMessageRequest{Body: "I want to talk to a human"}); r.Status != http.StatusOK {
		t.Fatalf("ask for a person: %d %s", r.Status, r.Body)
	}
	if r := s.do("PUT", "/v1/agents/agent-1/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
		t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+id+"/claim", tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+id+"/reply", tenantA+"/agent", api.PostMessageRequest{Body: "Your parcel left this morning."}); r.Status != http.StatusOK {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+id+"/resolve", tenantA+"/agent", api.ResolveRequest{Code: workflows.ResolutionCodes[0]}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	got := rcv.waitFor(t, id, "csat.requested")
	want := []string{"case.opened", "message.created", "case.escalated", "message.created", "case.assigned", "message.created", "case.resolved", "csat.requested"}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events %v, want %v", types(got), want)
	}
	first := got[1].Data["message"].(map[string]any)
	if first["author_kind"] != workflows.AuthorAI || first["ai_disclosure"] != true || first["model"] == "" || first["body"] == "" {
		t.Fatalf("the AI's answer as delivered: %v", first)
	}
	if got[2].Data["reason"] != workflows.ReasonCustomerRequest {
		t.Fatalf("escalation reason: %v", got[2].Data)
	}
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.ID] {
			t.Fatalf("event %s delivered twice", d.ID)
		}
		seen[d.ID] = true
	}

	// The receiver fails for a while; every event of the next case arrives
	// once it recovers, in order.
	rcv.set(true)
	second := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-wh2", Channel: "web_chat", Message: inScope(1)}).Case.ID
	s.do("POST", "/v1/cases/"+second+"/messages", tenantA, api.PostMessageRequest{Body: "agent please"})
	var pending api.DeliveryList
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s.do("GET", "/v1/admin/webhooks/"+created.Webhook.ID+"/deliveries?status=pending", tenantA+"/admin", nil).decode(t, &pending)
		if len(pending.Deliveries) > 0 && pending.Deliveries[len(pending.Deliveries)-1].Attempts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing receiver's deliveries: %+v", pending)
		}
	}
	rcv.set(false)
	got2 := rcv.waitFor(t, second, "case.escalated")
	if w2 := []string{"case.opened", "message.created", "case.escalated"}; !slices.Equal(types(got2)[:3], w2) {
		t.Fatalf("after recovery %v, want %v first", types(got2), w2)
	}

	// A rotated secret: deliveries are signed with both while the old one is valid.
	var rotated api.CreatedWebhook
	s.do("POST", "/v1/admin/webhooks/"+created.Webhook.ID+"/rotate-secret", admin, nil).decode(t, &rotated)
	if rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Fatalf("rotate: %+v", rotated)
	}
	rcv.mu.Lock()
	rcv.secrets = []string{created.Secret, rotated.Secret}
	rcv.mu.Unlock()
	if r := s.do("POST", "/v1/cases/"+id+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	rcv.waitFor(t, id, "case.closed")

	// Sent again on request, under the same ID.
	if r := s.do("POST", "/v1/admin/webhooks/"+created.Webhook.ID+"/deliveries/"+got[0].ID+"/redeliver", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := 0
		for _, d := range rcv.of(id) {
			if d.ID == got[0].ID {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redelivery did not arrive")
		}
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("deliveries that did not verify: %v", bad)
	}

	// Disabled, the endpoint's delivery workflow ends.
	if r := s.do("PATCH", "/v1/admin/webhooks/"+created.Webhook.ID, admin, api.WebhookRequest{Enabled: ptr(false)}); r.Status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	wfID := workflows.WebhookWorkflowID(tenantA, created.Webhook.ID)
	waitClosed(t, s.temporal, wfID)
	s.recordHistory(wfID, "delivered_then_disabled")
}

// An endpoint that fails as many times in a row as its threshold is
// disabled, and the tenant's admins are told; a target on loopback is
// refused for a tenant that does not allow private networks.
func TestWebhookDisabledAfterFailingAndPrivateTargetsRefused(t *testing.T) {
	s := newStack(t)
	if r := s.do("POST", "/v1/admin/webhooks", tenantB+"/admin+totp", api.WebhookRequest{URL: "http://127.0.0.1:9/x", EventTypes: []string{"case.opened"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a loopback target for a tenant that does not allow it: %d %s", r.Status, r.Body)
	}
	for _, bad := range []api.WebhookRequest{{URL: "ftp://example.com", EventTypes: []string{"case.opened"}}, {URL: "http://example.com", EventTypes: []string{"case.exploded"}},
		{URL: "http://user:pw@example.com", EventTypes: []string{"case.opened"}}} {
		if r := s.do("POST", "/v1/admin/webhooks", tenantB+"/admin+totp", bad); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%+v: %d %s", bad, r.Status, r.Body)
		}
	}
	if err := s.store.AllowPrivateWebhooks(t.Context(), tenantA, true); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(down.Close)
	var created api.CreatedWebhook
	s.do("POST", "/v1/admin/webhooks", tenantA+"/admin+totp", api.WebhookRequest{URL: down.URL, EventTypes: []string{"case.opened", "message.created"}, DisableAfter: 3}).decode(t, &created)
	s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-down", Channel: "web_chat", Message: inScope(0)})
	var w struct{ Webhook store.Webhook }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s.do("GET", "/v1/admin/webhooks/"+created.Webhook.ID, tenantA+"/admin", nil).decode(t, &w)
		if !w.Webhook.Enabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still enabled after failing: %+v", w.Webhook)
		}
	}
	if !strings.Contains(w.Webhook.DisabledReason, "3 failed deliveries") {
		t.Fatalf("disabled: %+v", w.Webhook)
	}
	var notes api.NotificationList
	s.do("GET", "/v1/notifications", tenantA+"/admin", nil).decode(t, &notes)
	if !slices.ContainsFunc(notes.Notifications, func(n store.Notification) bool {
		return n.Kind == "webhook.disabled" && n.SubjectID == created.Webhook.ID
	}) {
		t.Fatalf("the admins were not told: %+v", notes)
	}
	// Another tenant's admin cannot see or change it.
	for _, r := range []response{s.do("GET", "/v1/admin/webhooks/"+created.Webhook.ID, tenantB+"/admin", nil),
		s.do("PATCH", "/v1/admin/webhooks/"+created.Webhook.ID, tenantB+"/admin+totp", api.WebhookRequest{Enabled: ptr(true)}),
		s.do("GET", "/v1/admin/webhooks/"+created.Webhook.ID+"/deliveries", tenantB+"/admin", nil)} {
		if r.Status != http.StatusNotFound {
			t.Fatalf("another tenant's admin: %d %s", r.Status, r.Body)
		}
	}
}
