package workflows_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"tandem/policies/service"
	"tandem/workflows"
)

func profile(t *testing.T, name string) service.Policy {
	t.Helper()
	p, err := service.Profile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// converse opens a case under the policy and sends the messages one second
// apart, returning each exchange and the last state.
func converse(t *testing.T, policy service.Policy, ai *fakeAI, msgs ...string) ([]workflows.PostMessageResult, *recorder) {
	t.Helper()
	rec := &recorder{}
	env := newEnvWithAI(rec, ai)
	in := input
	in.Policy = policy
	outs := make([]updateOutcome, len(msgs))
	for i, m := range msgs {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdatePostMessage, "m"+itoa(i), callbacks(&outs[i]), workflows.PostMessageInput{Body: m})
		}, time.Duration(i+1)*time.Second)
	}
	// Closed once every AI turn has had its budget.
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end of test"})
	}, time.Duration(len(msgs)+1)*time.Second+workflows.AIBudget)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	results := make([]workflows.PostMessageResult, len(msgs))
	for i, o := range outs {
		r, ok := o.result.(workflows.PostMessageResult)
		if !ok {
			t.Fatalf("message %d: %v %v %v", i, o.result, o.err, o.rejected)
		}
		results[i] = r
	}
	return results, rec
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestAITriggers: each reading of a message by the AI layer that must hand
// the case to people does so with its reason code, under the thresholds of
// the pinned policy; a reading that passes them gets the AI's answer.
func TestAITriggers(t *testing.T) {
	answer := func(change func(*workflows.AITurnResult)) *fakeAI {
		return &fakeAI{answer: func(in workflows.AITurnInput) (workflows.AITurnResult, error) {
			r, _ := confidentAnswer(in)
			change(&r)
			return r, nil
		}}
	}
	efficiency, risk := profile(t, "efficiency-first"), profile(t, "risk-sensitive")
	tests := []struct {
		name   string
		policy service.Policy
		ai     *fakeAI
		msgs   []string
		want   string // escalation reason after the last message; "" for an AI answer
	}{
		{"confident answer", efficiency, &fakeAI{}, []string{"where is my parcel"}, ""},
		{"angry customer", efficiency, answer(func(r *workflows.AITurnResult) { r.Anger, r.Distress, r.Negativity = 0.9, 0.9, 0.9 }), []string{"x"}, workflows.ReasonNegativeSentiment},
		{"anger under the efficiency threshold", efficiency, answer(func(r *workflows.AITurnResult) { r.Distress = 0.8 }), []string{"x"}, ""},
		{"the same anger over the risk-sensitive threshold", risk, answer(func(r *workflows.AITurnResult) { r.Distress = 0.8 }), []string{"x"}, workflows.ReasonNegativeSentiment},
		{"a plain complaint is no distress", risk, answer(func(r *workflows.AITurnResult) { r.Negativity = 0.95 }), []string{"x"}, ""},
		{"sensitive topic where policy sends it to people", risk, answer(func(r *workflows.AITurnResult) { r.SensitiveTopic = "fraud" }), []string{"x"}, workflows.ReasonSensitiveTopic},
		{"sensitive topic where policy lets the AI answer", efficiency, answer(func(r *workflows.AITurnResult) { r.SensitiveTopic = "fraud" }), []string{"x"}, ""},
		{"out of scope", efficiency, answer(func(r *workflows.AITurnResult) { r.OutOfScope, r.Answer, r.ArticleID = true, "", "" }), []string{"x"}, workflows.ReasonOutOfScope},
		{"several intents", efficiency, answer(func(r *workflows.AITurnResult) { r.Intents = []string{"a", "b"} }), []string{"x"}, workflows.ReasonSeveralIntents},
		{"low confidence", risk, answer(func(r *workflows.AITurnResult) { r.Confidence = 0.5 }), []string{"x"}, workflows.ReasonLowConfidence},
		{"the same confidence passes efficiency-first", efficiency, answer(func(r *workflows.AITurnResult) { r.Confidence = 0.5 }), []string{"x"}, ""},
		{"customer repeats", efficiency, answer(func(r *workflows.AITurnResult) { r.Repeated = len(r.Intent) > 0 && r.Answer == "Answer to: again" }),
			[]string{"first", "again"}, workflows.ReasonCustomerRepeating},
		{"AI would repeat its answer", efficiency, answer(func(r *workflows.AITurnResult) { r.ArticleID = "same" }), []string{"one", "two"}, workflows.ReasonAIRepeating},
		{"AI fails", efficiency, &fakeAI{answer: func(workflows.AITurnInput) (workflows.AITurnResult, error) {
			return workflows.AITurnResult{}, errors.New("model unavailable")
		}}, []string{"x"}, workflows.ReasonAIFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := converse(t, tt.policy, tt.ai, tt.msgs...)
			last := res[len(res)-1]
			if tt.want == "" {
				if last.Case.Status != workflows.StatusAIHandling || last.Reply.AuthorKind != workflows.AuthorAI || last.Case.Escalation != "" {
					t.Fatalf("want an AI answer, got %+v", last)
				}
				return
			}
			wantQueue := workflows.DefaultQueue
			if tt.want == workflows.ReasonSensitiveTopic {
				wantQueue = workflows.SecurityQueue // fraud needs its specialists
			}
			if last.Case.Status != workflows.StatusQueued || last.Case.Escalation != tt.want || last.Case.Queue != wantQueue {
				t.Fatalf("status %q reason %q queue %q, want queued in %q with %q", last.Case.Status, last.Case.Escalation, last.Case.Queue, wantQueue, tt.want)
			}
			if last.Reply.AuthorKind != workflows.AuthorSystem || last.Reply.Body != workflows.HandoffNotice {
				t.Fatalf("reply %+v, want the handoff notice", last.Reply)
			}
		})
	}
}

func TestSentimentWorseningOverThreeMessages(t *testing.T) {
	scores := map[string]float64{"calm": 0.2, "less calm": 0.4, "upset": 0.6}
	ai := &fakeAI{answer: func(in workflows.AITurnInput) (workflows.AITurnResult, error) {
		r, _ := confidentAnswer(in)
		r.Distress = scores[in.Message]
		return r, nil
	}}
	res, _ := converse(t, profile(t, "efficiency-first"), ai, "calm", "less calm", "upset")
	if res[1].Case.Status != workflows.StatusAIHandling {
		t.Fatalf("two messages are no trend: %+v", res[1].Case)
	}
	if got := res[2].Case.Escalation; got != workflows.ReasonSentimentWorsening {
		t.Fatalf("0.2, 0.4, 0.6: reason %q, want %q", got, workflows.ReasonSentimentWorsening)
	}
}

func TestAIDecisionIsAudited(t *testing.T) {
	res, rec := converse(t, profile(t, "efficiency-first"), &fakeAI{}, "where is my parcel")
	var reply *workflows.AuditRecord
	for _, r := range rec.records {
		for i, a := range r.Audit {
			if a.Action == workflows.AuditCaseReply && a.Seq == res[0].Reply.Seq {
				reply = &r.Audit[i]
			}
		}
	}
	if reply == nil {
		t.Fatal("no audit entry for the AI's answer")
	}
	want := map[string]string{"engine": "fake", "model": "fake-1", "article_id": "art-where is my parcel", "article_version": "1",
		"confidence": "0.900", "intent": "faq", "outcome": "answered", "language": "en", "negativity": "0.000"}
	for k, v := range want {
		if reply.Details[k] != v {
			t.Errorf("audit detail %s = %q, want %q", k, reply.Details[k], v)
		}
	}
	if reply.Actor.Kind != "ai" {
		t.Errorf("actor %+v, want the AI", reply.Actor)
	}
}

func TestFeedbackResolvesOrEscalates(t *testing.T) {
	customer := workflows.Actor{Kind: "service", ID: "chat"}
	t.Run("helpful resolves, once", func(t *testing.T) {
		rec := &recorder{}
		env := newEnv(rec)
		var first, retry, wrongSeq updateOutcome
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "where is my parcel"})
		}, time.Second)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateFeedback, "f1", callbacks(&wrongSeq), workflows.FeedbackInput{Actor: customer, Seq: 1, Helpful: true})
			env.UpdateWorkflow(workflows.UpdateFeedback, "f2", callbacks(&first), workflows.FeedbackInput{Actor: customer, Seq: 2, Helpful: true})
			env.UpdateWorkflow(workflows.UpdateFeedback, "f3", callbacks(&retry), workflows.FeedbackInput{Actor: customer, Seq: 2, Helpful: true})
		}, 2*time.Second)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
		}, 3*time.Second)
		env.ExecuteWorkflow(workflows.CaseWorkflowName, input)
		assertAppError(t, "feedback on the customer's own message", wrongSeq.rejected, workflows.ErrTypeNotAnAnswer)
		st, _ := first.result.(workflows.CaseState)
		if st.Status != workflows.StatusResolved || st.Resolution != "answered" || st.ResolvedAt == nil {
			t.Fatalf("after helpful: %+v %v", first.result, first.err)
		}
		again, _ := retry.result.(workflows.CaseState)
		if again.Seq != st.Seq {
			t.Fatalf("a repeated verdict moved the case: seq %d then %d", st.Seq, again.Seq)
		}
		feedbacks := 0
		for _, r := range rec.records {
			for _, a := range r.Audit {
				if a.Action == workflows.AuditCaseFeedback {
					feedbacks++
				}
			}
		}
		if feedbacks != 1 {
			t.Fatalf("%d feedback audit entries, want 1", feedbacks)
		}
	})
	t.Run("unhelpful answers up to the policy's count escalate", func(t *testing.T) {
		env := newEnv(&recorder{})
		in := input
		in.Policy = profile(t, "experience-first") // two unhelpful answers
		outs, msgs := make([]updateOutcome, 2), make([]updateOutcome, 2)
		for i := range 2 {
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdatePostMessage, "m"+itoa(i), callbacks(&msgs[i]), workflows.PostMessageInput{Body: "question " + itoa(i)})
			}, time.Duration(2*i+1)*time.Second)
			env.RegisterDelayedCallback(func() {
				seq := msgs[i].result.(workflows.PostMessageResult).Reply.Seq
				env.UpdateWorkflow(workflows.UpdateFeedback, "f"+itoa(i), callbacks(&outs[i]), workflows.FeedbackInput{Actor: customer, Seq: seq})
			}, time.Duration(2*i+2)*time.Second)
		}
		var afterOne workflows.CaseState // the whole state, by Query: an update reports less
		env.RegisterDelayedCallback(func() {
			v, _ := env.QueryWorkflow(workflows.QueryState)
			_ = v.Get(&afterOne)
		}, 2*time.Second+time.Millisecond)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Reason: "end"})
		}, 10*time.Second)
		env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
		one, _ := outs[0].result.(workflows.CaseState)
		two, _ := outs[1].result.(workflows.CaseState)
		if one.Status != workflows.StatusAIHandling || afterOne.AI.Unhelpful != 1 {
			t.Fatalf("after one unhelpful answer: %+v %v; state %+v", outs[0].result, outs[0].err, afterOne.AI)
		}
		if two.Status != workflows.StatusQueued || two.Escalation != workflows.ReasonAIUnhelpful {
			t.Fatalf("after two: %+v %v", outs[1].result, outs[1].err)
		}
	})
}

func TestHumanShareSamplesCasesForPeople(t *testing.T) {
	policy := profile(t, "experience-first")
	policy.Escalation.HumanShare = 1 // every case
	res, _ := converse(t, policy, &fakeAI{}, "where is my parcel")
	if res[0].Reply.AuthorKind != workflows.AuthorAI || res[0].Case.Escalation != workflows.ReasonHumanShare || res[0].Case.Status != workflows.StatusQueued {
		t.Fatalf("share 1: %+v", res[0])
	}
	policy.Escalation.HumanShare = 0
	res, _ = converse(t, policy, &fakeAI{}, "where is my parcel")
	if res[0].Case.Status != workflows.StatusAIHandling {
		t.Fatalf("share 0: %+v", res[0].Case)
	}
}

// Domain modules: a tenant keeps medical questions for people, and answers
// legal ones only from legal articles.
func TestDomainModules(t *testing.T) {
	policy := profile(t, "efficiency-first")
	policy.AI.PeopleDomains = []string{"medical"}
	policy.AI.StrictDomains = []string{"legal"}
	answer := func(topic, domain string) *fakeAI {
		return &fakeAI{answer: func(in workflows.AITurnInput) (workflows.AITurnResult, error) {
			r, _ := confidentAnswer(in)
			r.SensitiveTopic, r.Domain = topic, domain
			return r, nil
		}}
	}
	for _, tc := range []struct {
		name, topic, domain, want string
	}{
		{"a medical article matched", "", "medical", workflows.ReasonPeopleDomain},
		{"a medical question, a general article", "medical", "general", workflows.ReasonPeopleDomain},
		{"a legal question, a legal article", "legal", "legal", ""},
		{"a legal question, a general article", "legal", "general", workflows.ReasonOutOfScope},
		{"no domain rule applies", "", "finance", ""},
	} {
		res, _ := converse(t, policy, answer(tc.topic, tc.domain), "x")
		if got := res[0].Case.Escalation; got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
}

// An AI turn rides out a dependency's blip: an engine that fails for some
// seconds (PostgreSQL restarting under it) is retried within the AI budget,
// and the customer gets its answer; the case is not handed to people.
func TestAITurnRidesOutABlip(t *testing.T) {
	failures := 8 // about ten seconds of retries
	ai := &fakeAI{answer: func(in workflows.AITurnInput) (workflows.AITurnResult, error) {
		if failures > 0 {
			failures--
			return workflows.AITurnResult{}, errors.New("read knowledge base: connection refused")
		}
		return confidentAnswer(in)
	}}
	res, rec := converse(t, profile(t, "efficiency-first"), ai, "How long does a refund take?")
	if failures != 0 || res[0].Reply.AuthorKind != workflows.AuthorAI || rec.escalatedFor(workflows.ReasonAIFailure) {
		t.Fatalf("reply %+v after a blip (%d failures left); want the AI's answer, no ai_failure", res[0].Reply, failures)
	}
}

// failingDecode is the default data converter, except that it cannot
// decode an AI turn's result: what a payload codec that could not read the
// customer's data key does.
type failingDecode struct{ converter.DataConverter }

func (f failingDecode) FromPayload(p *commonpb.Payload, v any) error {
	if _, ok := v.(*workflows.AITurnResult); ok {
		return errors.New(`data key "dk_1": read data key: context deadline exceeded`)
	}
	return f.DataConverter.FromPayload(p, v)
}

func (f failingDecode) FromPayloads(ps *commonpb.Payloads, vs ...any) error {
	for _, v := range vs {
		if _, ok := v.(*workflows.AITurnResult); ok {
			return errors.New(`data key "dk_1": read data key: context deadline exceeded`)
		}
	}
	return f.DataConverter.FromPayloads(ps, vs...)
}

// A result the workflow cannot decode is no outcome to decide on: the
// workflow task fails (and Temporal retries it), and the case is not
// handed to people as if the AI had failed — a replay that could read the
// key would have decided otherwise.
func TestUndecodableAIResultDecidesNothing(t *testing.T) {
	rec := &recorder{}
	env := newEnvWithAI(rec, &fakeAI{})
	env.SetDataConverter(failingDecode{converter.GetDefaultDataConverter()})
	in := input
	in.Policy = profile(t, "efficiency-first")
	var out updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "m0", callbacks(&out), workflows.PostMessageInput{Body: "How long does a refund take?"})
	}, time.Second)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "could not be decoded") {
		t.Fatalf("workflow error %v, want the task failed on the undecodable result", err)
	}
	if rec.escalatedFor(workflows.ReasonAIFailure) {
		t.Fatal("an undecodable result was taken for an AI failure and the case handed to people")
	}
}
