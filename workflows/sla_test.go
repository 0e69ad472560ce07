package workflows_test

import (
	"testing"
	"time"

	"tandem/policies/service"
	"tandem/workflows"
)

// slaPolicy: business hours Monday to Friday 09:00–17:00 UTC; for normal
// priority a first response within 1 h, a next response within 2 h and
// resolution within 4 h of business time; a warning at 75%.
func slaPolicy(t *testing.T, onBreach string, holidays ...string) service.Policy {
	p := profile(t, "efficiency-first")
	p.BusinessHours = service.BusinessHours{TimeZone: "UTC", Weekdays: []string{"mon", "tue", "wed", "thu", "fri"},
		Open: "09:00", Close: "17:00", Holidays: holidays}
	p.SLA.FirstResponse["normal"] = service.Duration(time.Hour)
	p.SLA.NextResponse["normal"] = service.Duration(2 * time.Hour)
	p.SLA.Resolution["normal"] = service.Duration(4 * time.Hour)
	p.SLA.WarnAt = []float64{0.75}
	p.SLA.OnBreach = onBreach
	return p
}

// slaEvents lists the SLA audit entries the workflow recorded, as
// "action clock at" with the time in UTC.
func slaEvents(rec *recorder) []string {
	var out []string
	for _, r := range rec.records {
		for _, a := range r.Audit {
			if a.Action == workflows.AuditSLAWarning || a.Action == workflows.AuditSLABreach {
				out = append(out, a.Action+" "+a.Details["clock"]+" "+a.At.UTC().Format("Mon 15:04"))
			}
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var friday1600 = time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)

// A case the AI keeps over a weekend breaches its resolution target on
// Monday, counted in business hours only, and goes to people.
func TestSLAResolutionOverTheWeekendAndAHoliday(t *testing.T) {
	for _, tc := range []struct {
		name     string
		holidays []string
		want     []string
	}{
		// With people from the breach on, nobody answers: their first-response clock runs out too.
		{"weekend", nil, []string{"case.sla_warning resolution Mon 11:00", "case.sla_breach resolution Mon 12:00",
			"case.sla_warning first_response Mon 12:45", "case.sla_breach first_response Mon 13:00"}},
		{"weekend and a Monday holiday", []string{"2026-11-30"}, []string{"case.sla_warning resolution Tue 11:00", "case.sla_breach resolution Tue 12:00",
			"case.sla_warning first_response Tue 12:45", "case.sla_breach first_response Tue 13:00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			env := newEnv(rec)
			env.SetStartTime(friday1600)
			in := input
			in.Policy = slaPolicy(t, "notify_supervisor", tc.holidays...)
			var opened updateOutcome
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&opened), workflows.PostMessageInput{Body: "where is my parcel"})
			}, time.Minute)
			var state workflows.CaseState
			env.RegisterDelayedCallback(func() {
				v, _ := env.QueryWorkflow(workflows.QueryState)
				_ = v.Get(&state)
				env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
			}, 6*24*time.Hour)
			env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if got := slaEvents(rec); !equalStrings(got, tc.want) {
				t.Fatalf("SLA events %v, want %v", got, tc.want)
			}
			if state.Status != workflows.StatusQueued || state.Escalation != workflows.ReasonSLABreach || state.SLA.Breach == nil {
				t.Fatalf("after the breach: status %q reason %q breach %v", state.Status, state.Escalation, state.SLA.Breach)
			}
		})
	}
}

// Waiting on the customer pauses the clocks, with the pause kept; their
// answer resumes resolution where it stopped and starts a next-response
// clock, whose breach notifies supervisors; an AI reply never meets a
// person's target.
func TestSLAPausesWhileWaitingOnTheCustomer(t *testing.T) {
	rec := &recorder{}
	env := newEnv(rec)
	monday0900 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(monday0900)
	in := input
	in.Policy = slaPolicy(t, "notify_supervisor")
	agent := workflows.Actor{Kind: "user", ID: "agent-1"}
	at := func(d time.Duration, f func()) { env.RegisterDelayedCallback(f, d) }
	at(time.Second, func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "I want a human"})
	})
	at(10*time.Minute, func() {
		env.UpdateWorkflow(workflows.UpdateClaim, "claim", callbacks(&updateOutcome{}), workflows.ClaimInput{Actor: agent})
	})
	at(30*time.Minute, func() {
		env.UpdateWorkflow(workflows.UpdateRequestInfo, "ask", callbacks(&updateOutcome{}), workflows.AgentMessageInput{Actor: agent, Body: "Which order?"})
	})
	var waiting, answered, resolved workflows.CaseState
	query := func(into *workflows.CaseState) {
		v, _ := env.QueryWorkflow(workflows.QueryState)
		_ = v.Get(into)
	}
	at(24*time.Hour, func() { query(&waiting) })
	at(48*time.Hour, func() { // Wednesday 09:00
		env.UpdateWorkflow(workflows.UpdatePostMessage, "answer", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "Order 1001"})
	})
	at(48*time.Hour+time.Minute, func() { query(&answered) })
	at(51*time.Hour, func() { // Wednesday 12:00
		env.UpdateWorkflow(workflows.UpdateResolve, "resolve", callbacks(&updateOutcome{}), workflows.ResolveInput{Actor: agent, Code: "answered"})
	})
	at(51*time.Hour+time.Minute, func() {
		query(&resolved)
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
	})
	env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	clock := func(st workflows.CaseState, name string) workflows.SLAClock {
		for _, c := range st.SLA.Clocks {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no %s clock in %+v", name, st.SLA)
		return workflows.SLAClock{}
	}
	// The customer asked for a person a second after opening; the agent answered at 09:30.
	if c := clock(waiting, workflows.ClockFirstResponse); c.MetAt == nil || c.BreachedAt != nil || c.Warned != 0 || c.Elapsed != 30*time.Minute-time.Second {
		t.Fatalf("first response while waiting: %+v", c)
	}
	if c := clock(waiting, workflows.ClockResolution); c.RunningSince != nil || !c.Paused || c.Elapsed != 30*time.Minute {
		t.Fatalf("resolution while waiting: %+v", c)
	}
	wantDeadline := time.Date(2026, 11, 25, 12, 30, 0, 0, time.UTC) // 3.5 h of business time left from Wednesday 09:00
	if c := clock(answered, workflows.ClockResolution); c.RunningSince == nil || c.Deadline == nil || !c.Deadline.Equal(wantDeadline) {
		t.Fatalf("resolution after the answer: %+v, want deadline %v", c, wantDeadline)
	}
	if p := answered.SLA.Pauses; len(p) != 1 || !p[0].From.Equal(monday0900.Add(30*time.Minute)) || p[0].To == nil || !p[0].To.Equal(monday0900.Add(48*time.Hour)) {
		t.Fatalf("pause history: %+v", p)
	}
	want := []string{"case.sla_warning next_response Wed 10:30", "case.sla_breach next_response Wed 11:00", "case.sla_warning resolution Wed 11:30"}
	if got := slaEvents(rec); !equalStrings(got, want) {
		t.Fatalf("SLA events %v, want %v", got, want)
	}
	if c := clock(resolved, workflows.ClockResolution); c.MetAt == nil || c.BreachedAt != nil || c.Elapsed != 3*time.Hour+30*time.Minute {
		t.Fatalf("resolution at resolving: %+v", c)
	}
	for _, r := range rec.records {
		for _, a := range r.Audit {
			if a.Action == workflows.AuditSLABreach && a.Details["notify"] != workflows.SupervisorQueue {
				t.Fatalf("breach entry %+v does not notify supervisors", a)
			}
		}
	}
}

// Breach actions for a case waiting in a queue: escalate moves it to the
// supervisors' queue; raise_priority raises its priority.
func TestSLABreachActions(t *testing.T) {
	for _, tc := range []struct {
		action      string
		queue, prio string
	}{
		{"escalate", workflows.SupervisorQueue, "normal"},
		{"raise_priority", workflows.DefaultQueue, "high"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			rec := &recorder{}
			env := newEnv(rec)
			env.SetStartTime(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
			in := input
			in.Policy = slaPolicy(t, tc.action)
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "agent please"})
			}, time.Second)
			var st workflows.CaseState
			env.RegisterDelayedCallback(func() {
				v, _ := env.QueryWorkflow(workflows.QueryState)
				_ = v.Get(&st)
				env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
			}, 2*time.Hour)
			env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if st.Queue != tc.queue || st.Priority != tc.prio || st.Status != workflows.StatusQueued {
				t.Fatalf("after the first-response breach: queue %q priority %q status %q", st.Queue, st.Priority, st.Status)
			}
			if got := slaEvents(rec); len(got) != 2 || got[1] != "case.sla_breach first_response Mon 10:00" {
				t.Fatalf("SLA events %v", got)
			}
		})
	}
}

// A case resolved while it waits on the customer meets its resolution
// target, and its pause is closed.
func TestSLAResolvedWhileWaiting(t *testing.T) {
	env := newEnv(&recorder{})
	env.SetStartTime(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	in := input
	in.Policy = slaPolicy(t, "notify_supervisor")
	agent := workflows.Actor{Kind: "user", ID: "agent-1"}
	steps := []func(){
		func() {
			env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "I want a human"})
		},
		func() {
			env.UpdateWorkflow(workflows.UpdateClaim, "claim", callbacks(&updateOutcome{}), workflows.ClaimInput{Actor: agent})
		},
		func() {
			env.UpdateWorkflow(workflows.UpdateRequestInfo, "ask", callbacks(&updateOutcome{}), workflows.AgentMessageInput{Actor: agent, Body: "Which order?"})
		},
	}
	for i, step := range steps {
		env.RegisterDelayedCallback(step, time.Duration(i+1)*time.Minute)
	}
	var st workflows.CaseState // the whole state, by Query: an update reports less
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateResolve, "resolve", callbacks(&updateOutcome{}), workflows.ResolveInput{Actor: agent, Code: "no_response"})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		v, _ := env.QueryWorkflow(workflows.QueryState)
		_ = v.Get(&st)
	}, 2*time.Hour+time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
	}, 3*time.Hour)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
	var res *workflows.SLAClock
	for i, c := range st.SLA.Clocks {
		if c.Name == workflows.ClockResolution {
			res = &st.SLA.Clocks[i]
		}
	}
	if res == nil || res.MetAt == nil || res.Paused || res.Elapsed != 3*time.Minute {
		t.Fatalf("resolution clock after resolving while waiting: %+v", res)
	}
	if p := st.SLA.Pauses; len(p) != 1 || p[0].To == nil || st.SLA.Due != nil {
		t.Fatalf("pauses %+v, due %v", p, st.SLA.Due)
	}
}
