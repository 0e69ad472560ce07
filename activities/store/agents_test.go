package store_test

import (
	"context"
	"testing"

	"tandem/activities/store"
)

func TestPickAgent(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	for _, a := range []store.Agent{
		{AgentID: "ann", Status: "available", Capacity: 2, Languages: []string{"en"}},
		{AgentID: "bo", Status: "available", Capacity: 1, Languages: []string{"zh-Hans", "zh-Hant"}},
		{AgentID: "cy", Status: "available", Capacity: 3, Languages: []string{}},
		{AgentID: "di", Status: "away", Capacity: 5, Languages: []string{}},
		{AgentID: "ed", Status: "available", Capacity: 5, Languages: []string{}}, // works another queue
	} {
		a.TenantID, a.UpdatedBy = "acme", "test"
		if _, err := st.SetAvailability(ctx, a); err != nil {
			t.Fatal(err)
		}
		queue := "general"
		if a.AgentID == "ed" {
			queue = "billing"
		}
		if err := st.SetAgentQueues(ctx, "acme", a.AgentID, []string{queue}); err != nil {
			t.Fatal(err)
		}
	}
	// ann holds one case already.
	held := snapshot(1, "in_progress")
	held.AssigneeID = ptr("ann")
	if _, err := st.RecordCase(ctx, held, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, queue, lang string
		exclude           []string
		want              string
	}{
		{"least loaded speaking English", "general", "en", nil, "cy"},
		{"Chinese", "general", "zh-Hant", nil, "bo"},
		{"excluded", "general", "en", []string{"cy"}, "ann"},
		{"nobody left", "general", "zh-Hans", []string{"bo", "cy"}, ""},
		{"another queue", "billing", "en", nil, "ed"},
		{"a queue nobody works", "legal", "en", nil, ""},
	} {
		got, err := st.PickAgent(ctx, "acme", tc.queue, tc.lang, tc.exclude)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }

func TestOfferIsProjectedAndWithdrawn(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	c := snapshot(1, "queued")
	c.OfferedTo = ptr("ann")
	if _, err := st.RecordCase(ctx, c, nil, nil); err != nil {
		t.Fatal(err)
	}
	c = snapshot(2, "queued")
	if _, err := st.RecordCase(ctx, c, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetCaseRow(ctx, "acme", caseID)
	if err != nil || got.OfferedTo != nil {
		t.Fatalf("after the offer lapsed: %v %v", got.OfferedTo, err)
	}
}
