package api_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"tandem/workflows"
)

// A failure's message is sealed in workflow history like any payload: a
// message can quote what a customer wrote (here the failure names a time
// zone that holds a customer's name). The clients read it back.
func TestFailureMessagesAreSealedInHistory(t *testing.T) {
	s := newStack(t)
	ctx := t.Context()
	secret := "Customer/Jane-Doe-" + randomHex(4)
	policy, err := s.store.ServicePolicy(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	policy.BusinessHours.TimeZone, policy.BusinessHours.Weekdays = secret, []string{"mon"}
	caseID := uuid.NewString()
	wfID := workflows.CaseWorkflowID(tenantA, caseID)
	if err := s.store.BindCaseKey(ctx, tenantA, "cust-42", wfID); err != nil {
		t.Fatal(err)
	}
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: s.queue}, workflows.CaseWorkflowName,
		workflows.CaseInput{CaseOpening: workflows.CaseOpening{TenantID: tenantA, CaseID: caseID, CustomerRef: "cust-42", Channel: "api",
			Subject: "s", Priority: "normal"}, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err == nil || !strings.Contains(err.Error(), secret) {
		t.Fatalf("the workflow's failure as the client reads it: %v, want it to name %s", err, secret)
	}
	it := s.temporal.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := protojson.Marshal(ev); strings.Contains(string(raw), secret) {
			t.Fatalf("history event %d holds the failure's text in clear: %s", ev.GetEventId(), raw)
		}
	}
}
