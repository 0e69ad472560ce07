package workflows

import (
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tandem/policies/service"
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

// matches says whether every condition of the rule holds for the case.
func (wf *caseWorkflow) matches(r service.RoutingRule) bool {
	switch {
	case r.Field != "" && !slices.ContainsFunc(wf.state.Fields, func(f FieldValue) bool { return f.Name == r.Field && f.Value == r.Equals && !f.Sealed }):
		return false
	case r.Channel != "" && r.Channel != wf.state.Channel:
		return false
	case r.Intent != "" && r.Intent != wf.state.AI.Intent:
		return false
	}
	return true
}

// ruled is what the pinned policy's rules make of the case: the queue of
// the first matching rule that names one, and the highest priority a
// matching rule names ("" for none). Runs pinned before rules existed
// have none, so their paths are unchanged.
func (wf *caseWorkflow) ruled() (queue, priority string) {
	for _, r := range wf.in.Policy.Routing.Rules {
		if !wf.matches(r) {
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

// ruleActions tags the case and sets its fields as matching rules say,
// again until nothing changes (a field a rule sets may match another
// rule), within the case's bounds on tags and fields; the details name
// what the rules did.
func (wf *caseWorkflow) ruleActions(details map[string]string) {
	rules := wf.in.Policy.Routing.Rules
	var tags, set []string
	for range len(rules) {
		changed := false
		for _, r := range rules {
			if !r.Acts() || !wf.matches(r) {
				continue
			}
			for _, t := range r.AddTags {
				if !slices.Contains(wf.state.Tags, t) && len(wf.state.Tags) < MaxTagsPerCase {
					wf.state.Tags = append(wf.state.Tags, t)
					tags, changed = append(tags, t), true
				}
			}
			names := slices.Sorted(maps.Keys(r.SetFields)) //workflowcheck:ignore sorted: the same order on every run and replay
			for _, name := range names {
				v := r.SetFields[name]
				i := slices.IndexFunc(wf.state.Fields, func(f FieldValue) bool { return f.Name == name })
				switch {
				case i >= 0 && wf.state.Fields[i].Value == v:
					continue
				case i >= 0:
					wf.state.Fields[i] = FieldValue{Name: name, Value: v}
				case len(wf.state.Fields) < MaxFieldsPerCase:
					wf.state.Fields = append(wf.state.Fields, FieldValue{Name: name, Value: v})
				default:
					continue
				}
				set, changed = append(set, name+"="+v), true
			}
		}
		if !changed {
			break
		}
	}
	if len(tags) > 0 {
		slices.Sort(wf.state.Tags)
		details["rule_tags"] = strings.Join(tags, ",")
	}
	if len(set) > 0 {
		slices.SortFunc(wf.state.Fields, func(a, b FieldValue) int { return strings.Compare(a.Name, b.Name) })
		details["rule_fields"] = strings.Join(set, ";")
	}
}

// applyRules does what the rules matching the case say: tags and fields
// first, then a waiting case moves to the queue they name and takes their
// priority, its running SLA clocks tightened to the new priority's
// targets; it says what it changed.
func (wf *caseWorkflow) applyRules(details map[string]string) {
	wf.ruleActions(details)
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
