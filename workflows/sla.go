package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"tandem/policies/service"
)

// SLA clock names, after the policy's targets.
const (
	ClockFirstResponse = "first_response" // from the case reaching people to a person's first reply
	ClockNextResponse  = "next_response"  // from a customer message to a case people own to their next reply
	ClockResolution    = "resolution"     // from opening to resolution; paused while waiting on the customer
)

// clock returns the named clock, or nil.
func (wf *caseWorkflow) clock(name string) *SLAClock {
	for i := range wf.state.SLA.Clocks {
		if wf.state.SLA.Clocks[i].Name == name {
			return &wf.state.SLA.Clocks[i]
		}
	}
	return nil
}

// startClock runs the named clock from now: a new one, a next-response clock
// after its last reply (afresh), or a resolution clock after a reopening
// (where it stopped). A running or met first-response clock is left alone.
func (wf *caseWorkflow) startClock(name string, now time.Time) {
	if !wf.has.slaClock {
		return
	}
	c := wf.clock(name)
	switch {
	case c == nil:
		target := wf.target(name)
		if target <= 0 {
			return
		}
		wf.state.SLA.Clocks = append(wf.state.SLA.Clocks, SLAClock{Name: name, Target: target})
		c = &wf.state.SLA.Clocks[len(wf.state.SLA.Clocks)-1]
	case c.RunningSince != nil, name == ClockFirstResponse && c.MetAt != nil:
		return
	case name == ClockNextResponse:
		*c = SLAClock{Name: name, Target: wf.target(name)}
	}
	c.MetAt, c.Paused = nil, false
	c.RunningSince = &now
	wf.refreshDeadlines()
}

// stopClock stops the named clock; met says the target was met.
func (wf *caseWorkflow) stopClock(name string, now time.Time, met bool) {
	c := wf.clock(name)
	if !wf.has.slaClock || c == nil || c.RunningSince == nil {
		return
	}
	c.Elapsed += wf.cal.between(*c.RunningSince, now)
	c.RunningSince, c.Deadline = nil, nil
	if met {
		c.MetAt = &now
	}
	wf.refreshDeadlines()
}

// pauseClocks stops the running clocks while the case waits on the customer.
func (wf *caseWorkflow) pauseClocks(now time.Time) {
	if !wf.has.slaClock {
		return
	}
	for _, c := range wf.state.SLA.Clocks {
		if c.RunningSince != nil {
			wf.stopClock(c.Name, now, false)
			wf.clock(c.Name).Paused = true
		}
	}
	wf.state.SLA.Pauses = lastN(append(wf.state.SLA.Pauses, SLAPause{From: now}), maxSLAPauses)
}

// resumeClocks restarts the clocks a wait paused.
func (wf *caseWorkflow) resumeClocks(now time.Time) {
	if !wf.has.slaClock {
		return
	}
	for _, c := range wf.state.SLA.Clocks {
		if c.Paused {
			wf.startClock(c.Name, now)
		}
	}
	if p := wf.state.SLA.Pauses; len(p) > 0 && p[len(p)-1].To == nil {
		p[len(p)-1].To = &now
	}
}

// stopAllClocks stops every clock, running or paused, and closes an open
// pause; resolving meets the resolution target (a case resolved while it
// waited on the customer included).
func (wf *caseWorkflow) stopAllClocks(now time.Time, resolved bool) {
	if !wf.has.slaClock {
		return
	}
	for i := range wf.state.SLA.Clocks {
		wf.stopClock(wf.state.SLA.Clocks[i].Name, now, false)
		c := &wf.state.SLA.Clocks[i]
		c.Paused = false
		if resolved && c.Name == ClockResolution {
			c.MetAt = &now
		}
	}
	if p := wf.state.SLA.Pauses; len(p) > 0 && p[len(p)-1].To == nil {
		p[len(p)-1].To = &now
	}
	wf.refreshDeadlines()
}

func (wf *caseWorkflow) target(name string) time.Duration {
	sla := wf.in.Policy.SLA
	var targets map[string]service.Duration
	switch name {
	case ClockFirstResponse:
		targets = sla.FirstResponse
	case ClockNextResponse:
		targets = sla.NextResponse
	case ClockResolution:
		targets = sla.Resolution
	}
	return time.Duration(targets[wf.state.Priority])
}

// refreshDeadlines recomputes the running clocks' deadlines and the case's due time.
func (wf *caseWorkflow) refreshDeadlines() {
	st := &wf.state.SLA
	st.Due = nil
	for i := range st.Clocks {
		c := &st.Clocks[i]
		if c.RunningSince == nil {
			continue
		}
		d := wf.cal.add(*c.RunningSince, c.Target-c.Elapsed)
		c.Deadline = &d
		if c.BreachedAt == nil && (st.Due == nil || d.Before(*st.Due)) {
			st.Due = &d
		}
	}
}

// nextEvent returns when the clock's next warning or breach falls due.
func (wf *caseWorkflow) nextEvent(c SLAClock) (time.Time, float64, bool) {
	if c.RunningSince == nil || c.BreachedAt != nil {
		return time.Time{}, 0, false
	}
	fraction := 1.0
	if warn := wf.in.Policy.SLA.WarnAt; c.Warned < len(warn) {
		fraction = warn[c.Warned]
	}
	left := time.Duration(fraction*float64(c.Target)) - c.Elapsed
	if left <= 0 {
		return *c.RunningSince, fraction, true
	}
	return wf.cal.add(*c.RunningSince, left), fraction, true
}

// nextSLAEvent returns the earliest warning or breach to come, if any.
func (wf *caseWorkflow) nextSLAEvent() (time.Time, bool) {
	var next time.Time
	found := false
	for _, c := range wf.state.SLA.Clocks {
		if at, _, ok := wf.nextEvent(c); ok && (!found || at.Before(next)) {
			next, found = at, true
		}
	}
	return next, found
}

// nextTimedEvent returns the earliest SLA event or offer lapse to come.
func (wf *caseWorkflow) nextTimedEvent() (time.Time, bool) {
	next, ok := wf.nextSLAEvent()
	if due, offered := wf.offerDue(); offered && (!ok || due.Before(next)) {
		return due, true
	}
	return next, ok
}

// fireSLA records every warning and breach that has fallen due, and applies
// the policy's breach action.
func (wf *caseWorkflow) fireSLA(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	var msgs []Message
	var audit []AuditRecord
	for i := range wf.state.SLA.Clocks {
		for {
			c := wf.state.SLA.Clocks[i]
			at, fraction, ok := wf.nextEvent(c)
			if !ok || at.After(now) {
				break
			}
			wf.step(now)
			details := map[string]string{"clock": c.Name, "target": c.Target.String(), "deadline": c.Deadline.UTC().Format(time.RFC3339)}
			if fraction < 1 {
				wf.state.SLA.Clocks[i].Warned++
				details["fraction"] = ftoa(fraction)
				audit = append(audit, AuditRecord{Seq: wf.state.Seq, Action: AuditSLAWarning, Actor: SystemActor, Reason: c.Name, At: now, Details: details})
				continue
			}
			wf.state.SLA.Clocks[i].BreachedAt = &now
			if wf.state.SLA.Breach == nil {
				wf.state.SLA.Breach = &now
			}
			m, a := wf.breach(now, details)
			msgs, audit = append(msgs, m...), append(audit, a...)
		}
	}
	if len(audit) == 0 {
		return nil
	}
	wf.refreshDeadlines()
	_, err := wf.commit(ctx, msgs, audit...)
	return err
}

// breach applies the pinned policy's breach action. A case the AI still has
// goes to people whatever the action: the AI did not resolve it in time.
func (wf *caseWorkflow) breach(now time.Time, details map[string]string) ([]Message, []AuditRecord) {
	action := wf.in.Policy.SLA.OnBreach
	details["action"] = action
	seq := wf.state.Seq
	var msgs []Message
	var audit []AuditRecord
	switch {
	case wf.state.Status == StatusAIHandling:
		wf.queue(ReasonSLABreach, now)
		notice := wf.appendMessage(now, Message{AuthorKind: AuthorSystem, Body: HandoffNoticeIn(wf.state.AI.Language)})
		msgs = append(msgs, notice)
		audit = append(audit, AuditRecord{Seq: notice.Seq, Action: AuditCaseEscalate, Actor: SystemActor, Reason: ReasonSLABreach, At: now,
			Details: map[string]string{"queue": wf.state.Queue, "clock": details["clock"]}},
			AuditRecord{Seq: notice.Seq, Action: AuditCaseReply, Actor: SystemActor, Reason: "handoff", At: now,
				Details: map[string]string{"message_seq": itoa(notice.Seq), "engine": "handoff"}})
	case action == "escalate" && wf.state.Status == StatusQueued && wf.state.Queue != SupervisorQueue:
		wf.enqueue(SupervisorQueue)
		wf.state.Escalation = ReasonSLABreach
		details["queue"] = SupervisorQueue
	case action == "raise_priority":
		if i := slices.Index(Priorities, wf.state.Priority); i >= 0 && i+1 < len(Priorities) {
			wf.state.Priority = Priorities[i+1]
			details["priority"] = wf.state.Priority
		}
	case action == "notify_supervisor":
		details["notify"] = SupervisorQueue
	}
	return msgs, append([]AuditRecord{{Seq: seq, Action: AuditSLABreach, Actor: SystemActor, Reason: details["clock"], At: now, Details: details}}, audit...)
}
