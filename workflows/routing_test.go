package workflows_test

import (
	"testing"
	"time"

	"tandem/workflows"
)

// A queued case is offered to the agent routing picks; another agent cannot
// take it meanwhile; an offer nobody takes lapses and goes to the next agent.
func TestOfferLapsesAndReroutes(t *testing.T) {
	rec := &recorder{}
	ai := &fakeAI{agents: []string{"ann", "bob"}}
	env := newEnvWithAI(rec, ai)
	in := input
	in.Policy = profile(t, "efficiency-first") // offers last two minutes
	bob := workflows.Actor{Kind: "user", ID: "bob"}
	var early, late updateOutcome
	var offered, reoffered workflows.CaseState
	query := func(into *workflows.CaseState) {
		v, _ := env.QueryWorkflow(workflows.QueryState)
		_ = v.Get(into)
	}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "agent please"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		query(&offered)
		env.UpdateWorkflow(workflows.UpdateClaim, "bob-early", callbacks(&early), workflows.ClaimInput{Actor: bob})
	}, 30*time.Second)
	env.RegisterDelayedCallback(func() { query(&reoffered) }, 3*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClaim, "bob-late", callbacks(&late), workflows.ClaimInput{Actor: bob})
	}, 3*time.Minute+10*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
	}, 4*time.Minute)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if offered.OfferedTo != "ann" || offered.OfferUntil == nil || offered.Status != workflows.StatusQueued {
		t.Fatalf("first offer: %+v", offered)
	}
	assertAppError(t, "bob claiming ann's offer", early.rejected, workflows.ErrTypeNotClaimable)
	if reoffered.OfferedTo != "bob" || len(reoffered.Passed) != 1 || reoffered.Passed[0] != "ann" {
		t.Fatalf("after the offer lapsed: offered to %q, passed %v", reoffered.OfferedTo, reoffered.Passed)
	}
	if st, _ := late.result.(workflows.CaseState); st.Status != workflows.StatusAssigned || st.Assignee != "bob" || st.OfferedTo != "" {
		t.Fatalf("bob takes his offer: %+v %v", late.result, late.err)
	}
	var trail []string
	for _, r := range rec.records {
		for _, a := range r.Audit {
			if a.Action == workflows.AuditCaseOffer || a.Action == workflows.AuditCaseOfferLapsed {
				trail = append(trail, a.Action+" "+a.Details["agent"])
			}
		}
	}
	if want := []string{"case.offer ann", "case.offer_lapsed ann", "case.offer bob"}; !equalStrings(trail, want) {
		t.Fatalf("offers %v, want %v", trail, want)
	}
	if p := ai.picks[0]; p.Queue != workflows.DefaultQueue || p.Language != "en" {
		t.Fatalf("routing asked for %+v", p)
	}
}

// With nobody free the case waits in its queue, and agents claim it there.
func TestNoAgentFreeLeavesTheCaseInTheQueue(t *testing.T) {
	env := newEnv(&recorder{})
	var claim updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "agent please"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClaim, "c", callbacks(&claim), workflows.ClaimInput{Actor: workflows.Actor{Kind: "user", ID: "cat"}})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, input)
	if st, _ := claim.result.(workflows.CaseState); st.Assignee != "cat" {
		t.Fatalf("claim from the queue: %+v %v", claim.result, claim.err)
	}
}
