package api_test

import (
	"net/http"
	"strings"
	"testing"

	"tandem/api"
)

// A front end reads what the customer may know; staff read everything their
// role may. The AI's readings, the staff's IDs, the policy and its limits
// never reach a front end.
func TestFrontEndsSeeTheCustomersView(t *testing.T) {
	s := newStack(t)
	ex := s.openCase(tenantA, sampleCase())
	s.escalate(tenantA, ex.Case.ID) // the AI read the message and handed it on
	for _, path := range []string{"/v1/cases/" + ex.Case.ID, "/v1/cases?limit=5"} {
		front := s.do("GET", path, tenantA, nil)
		staff := s.do("GET", path, tenantA+"/supervisor", nil)
		if front.Status != http.StatusOK || staff.Status != http.StatusOK {
			t.Fatalf("%s: %d / %d", path, front.Status, staff.Status)
		}
		for _, hidden := range []string{`"escalation_reason"`, `"queue"`, `"policy"`, `"sla_due_at"`, `"timeline"`, `"distress"`, `"confidence"`, `"metrics"`} {
			if strings.Contains(string(front.Body), hidden) {
				t.Errorf("%s: a front end sees %s: %s", path, hidden, front.Body)
			}
		}
		if !strings.Contains(string(staff.Body), `"escalation_reason"`) {
			t.Errorf("%s: staff do not see why the case was escalated: %s", path, staff.Body)
		}
	}
	var refund struct {
		Refund map[string]any `json:"refund"`
	}
	r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/refunds", tenantA, refundBody("1001", "80.00"), "Idempotency-Key", "view-1")
	if r.Status != http.StatusAccepted {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	r.decode(t, &refund)
	id, _ := refund.Refund["refund_id"].(string)
	for _, hidden := range []string{"policy", "decided_by", "steps", "requested_by", "approval_limits"} {
		if _, ok := refund.Refund[hidden]; ok || strings.Contains(string(r.Body), "approval_limits") {
			t.Errorf("a front end sees the refund's %s: %s", hidden, r.Body)
		}
	}
	var staffView struct {
		Refund map[string]any `json:"refund"`
	}
	s.do("GET", "/v1/refunds/"+id, tenantA+"/supervisor", nil).decode(t, &staffView)
	if _, ok := staffView.Refund["policy"]; !ok {
		t.Fatalf("staff do not see the refund's policy: %v", staffView.Refund)
	}
	if r := s.do("GET", "/v1/cases/"+ex.Case.ID+"/refunds", tenantA, nil); strings.Contains(string(r.Body), "requested_by") {
		t.Fatalf("a front end sees who asked inside the company: %s", r.Body)
	}
	// The customers' gateway lists only what is owed to customers.
	var notes api.NotificationList
	s.do("GET", "/v1/notifications", tenantA, nil).decode(t, &notes)
	for _, n := range notes.Notifications {
		if n.Recipient != "customer" {
			t.Fatalf("a front end lists a notification for %s", n.Recipient)
		}
	}
}
