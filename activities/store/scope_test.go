package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/policies"
)

// The agent scope rule is one rule: the predicate the API checks a case
// with and the SQL the store lists cases with agree on every kind of row.
func TestAgentScopeSQLAgreesWithThePredicate(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	rows := []struct{ assignee, queue string }{
		{"", ""}, {"", "general"}, {"", "billing"}, {"ann", ""}, {"ann", "general"}, {"bob", "general"}, {"bob", ""},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, r := range rows {
		c := store.Case{TenantID: "acme", ID: fmt.Sprintf("5d0c3b9e-2222-4000-8000-%012d", i), CustomerRef: "c", Channel: "api",
			Priority: "normal", Status: "queued", LastSeq: 1, OpenedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at}
		c.WorkflowID = "case:acme:" + c.ID
		if r.assignee != "" {
			c.AssigneeID = &r.assignee
		}
		if r.queue != "" {
			c.Queue = &r.queue
		}
		if _, err := st.RecordCase(ctx, c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, scope := range []policies.AgentScope{
		{AgentID: "ann"}, {AgentID: "ann", Queues: []string{"general"}}, {AgentID: "cat", Queues: []string{"general", "billing"}},
	} {
		listed, _, err := st.ListCases(ctx, "acme", store.ListFilter{Agent: &scope, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, c := range listed {
			got = append(got, c.ID)
		}
		for i, r := range rows {
			if scope.Sees(r.assignee, r.queue) {
				want = append(want, fmt.Sprintf("5d0c3b9e-2222-4000-8000-%012d", i))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("scope %+v: SQL lists %v, the predicate sees %v", scope, got, want)
		}
	}
}
