package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DefaultOfferTimeout applies where the pinned policy sets none.
const DefaultOfferTimeout = 2 * time.Minute

// Skill queues a case the AI hands over goes to, besides DefaultQueue and
// SupervisorQueue. Agents work the queues of their skills.
const (
	BillingQueue  = "billing"
	SecurityQueue = "security"
	MedicalQueue  = "medical"
	LegalQueue    = "legal"
)

// maxPassed bounds the agents a case remembers passing on it.
const maxPassed = 20

// skillQueue picks the queue for a case from what the AI read last: a
// sensitive topic needs its specialists; money questions go to billing.
func skillQueue(mem AIMemory) string {
	switch mem.Topic {
	case "fraud", "account_security":
		return SecurityQueue
	case "medical":
		return MedicalQueue
	case "legal":
		return LegalQueue
	}
	switch mem.Domain {
	case "finance":
		return BillingQueue
	case "medical":
		return MedicalQueue
	case "legal":
		return LegalQueue
	}
	return DefaultQueue
}

// ruled is what the pinned policy's rules make of the case's fields: the
// queue of the first matching rule that names one, and the highest
// priority a matching rule names ("" for none). Runs pinned before rules
// existed have none, so their paths are unchanged.
func (wf *caseWorkflow) ruled() (queue, priority string) {
	for _, r := range wf.in.Policy.Routing.Rules {
		if !slices.ContainsFunc(wf.state.Fields, func(f FieldValue) bool { return f.Name == r.Field && f.Value == r.Equals && !f.Sealed }) {
			continue
		}
		if queue == "" {
			queue = r.Queue
		}
		if slices.Index(Priorities, r.Priority) > slices.Index(Priorities, priority) {
			priority = r.Priority
		}
	}
	return queue, priority
}

// applyRules moves a waiting case to the queue its fields' rules name and
// raises its priority to theirs, tightening its running SLA clocks to the
// new priority's targets; it says what it changed.
func (wf *caseWorkflow) applyRules(details map[string]string) {
	queue, prio := wf.ruled()
	if slices.Index(Priorities, prio) > slices.Index(Priorities, wf.state.Priority) {
		wf.state.Priority = prio
		for i := range wf.state.SLA.Clocks {
			c := &wf.state.SLA.Clocks[i]
			if t := wf.target(c.Name); t > 0 && t < c.Target {
				c.Target = t
			}
		}
		wf.refreshDeadlines()
		details["priority"] = prio
	}
	if queue != "" && wf.state.Status == StatusQueued && wf.state.Queue != queue {
		wf.enqueue(queue)
		details["queue"] = queue
	}
}

// enqueue puts the case in a queue for people, to be offered to an agent.
func (wf *caseWorkflow) enqueue(queue string) {
	wf.state.Status, wf.state.Assignee, wf.state.Queue = StatusQueued, "", queue
	wf.clearOffer()
	wf.state.RoutePending = wf.has.routing
}

func (wf *caseWorkflow) clearOffer() {
	wf.state.OfferedTo, wf.state.OfferUntil = "", nil
}

func (wf *caseWorkflow) pass(agent string) {
	if agent != "" && !slices.Contains(wf.state.Passed, agent) {
		wf.state.Passed = lastN(append(wf.state.Passed, agent), maxPassed)
	}
}

func (wf *caseWorkflow) offerTimeout() time.Duration {
	if t := time.Duration(wf.in.Policy.Routing.OfferTimeout); t > 0 {
		return t
	}
	return DefaultOfferTimeout
}

// route offers a queued case to the least-loaded available agent who works
// its queue and speaks the customer's language. With nobody free the case
// waits in the queue, where agents can claim it.
func (wf *caseWorkflow) route(ctx workflow.Context) error {
	wf.state.RoutePending = false
	in := PickAgentInput{TenantID: wf.state.TenantID, CaseID: wf.state.CaseID, Queue: wf.state.Queue,
		Language: wf.state.Language, Exclude: slices.Clone(wf.state.Passed)}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 3 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumAttempts: 3},
	})
	var res PickAgentResult
	if err := result(ctx, workflow.ExecuteLocalActivity(lctx, ActivityPickAgent, in), &res); err != nil {
		workflow.GetLogger(ctx).Warn("routing failed; the case waits in its queue", "case", wf.state.CaseID, "error", err)
		return nil
	}
	// The case may have been claimed or closed while routing looked.
	if res.AgentID == "" || wf.state.Status != StatusQueued || wf.state.OfferedTo != "" || wf.state.RoutePending {
		return nil
	}
	now := workflow.Now(ctx)
	until := now.Add(wf.offerTimeout())
	wf.state.OfferedTo, wf.state.OfferUntil = res.AgentID, &until
	_, err := wf.commit(ctx, nil, AuditRecord{Seq: wf.step(now), Action: AuditCaseOffer, Actor: SystemActor, At: now,
		Details: map[string]string{"agent": res.AgentID, "queue": wf.state.Queue, "until": until.UTC().Format(time.RFC3339)}})
	return err
}

// lapseOffer withdraws an offer nobody took in time and routes the case again.
func (wf *caseWorkflow) lapseOffer(ctx workflow.Context, now time.Time) error {
	agent := wf.state.OfferedTo
	wf.pass(agent)
	wf.clearOffer()
	wf.state.RoutePending = true
	_, err := wf.commit(ctx, nil, AuditRecord{Seq: wf.step(now), Action: AuditCaseOfferLapsed, Actor: SystemActor, At: now,
		Details: map[string]string{"agent": agent, "queue": wf.state.Queue}})
	return err
}

// offerDue says when the current offer lapses, if there is one.
func (wf *caseWorkflow) offerDue() (time.Time, bool) {
	if wf.state.Status != StatusQueued || wf.state.OfferUntil == nil {
		return time.Time{}, false
	}
	return *wf.state.OfferUntil, true
}
