package workflows

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// aiTurn asks the AI layer about the customer's message (even one asking for
// a person: its language, intent and emotion go to the agent) and either records
// its answer or hands the case to people, returning the reply to send (Seq 0
// for none) and the audit entries of the decision. The case may change while
// the AI thinks (another message escalated it): then the AI stays silent.
func (wf *caseWorkflow) aiTurn(ctx workflow.Context, customer Message) (Message, []AuditRecord) {
	in := AITurnInput{Engine: wf.in.Policy.AI.Engine, TenantID: wf.state.TenantID, CaseID: wf.state.CaseID, Message: customer.Body,
		Previous: slices.Clone(wf.state.AI.Recent), Notes: slices.Clone(wf.state.AI.Notes)}
	res, err := askAI(ctx, in)
	now := workflow.Now(ctx)
	if wf.state.Status != StatusAIHandling {
		return Message{}, nil
	}
	mem := &wf.state.AI
	asked := AsksForPerson(customer.Body)
	if err != nil {
		workflow.GetLogger(ctx).Warn("AI turn failed; handing the case to people", "case", wf.state.CaseID, "error", err)
		reason := ReasonAIFailure
		if asked {
			reason = ReasonCustomerRequest
		}
		return wf.handOver(now, reason, mem.Language, map[string]string{"error": "ai_unavailable"})
	}
	reason := aiEscalation(wf.in.Policy, res, *mem)
	if asked { // the customer's wish outranks every reading of the message
		reason = ReasonCustomerRequest
	}
	mem.Recent = lastN(append(mem.Recent, customer.Body), aiRecentMessages)
	mem.Distress = lastN(append(mem.Distress, res.Distress), aiRecentScores)
	mem.Intent, mem.Language = res.Intent, res.Language
	mem.Topic, mem.Domain = res.SensitiveTopic, res.Domain
	details := decisionDetails(res)
	details["customer_seq"] = itoa(customer.Seq)
	if reason != "" {
		return wf.handOver(now, reason, res.Language, details)
	}
	answer := Message{AuthorKind: AuthorAI, AuthorID: res.Engine, Body: res.Answer, ArticleID: res.ArticleID,
		Model: res.Model, ArticleVersion: int(res.ArticleVersion)}
	// The first AI answer of a case says it is an AI and how to reach a
	// person (EU AI Act, Art. 50), in the customer's language. Runs that
	// answered before this change replay without it.
	if !mem.Disclosed && wf.disclosesAI(ctx) {
		answer.Body = wf.in.Policy.AI.DisclosureIn(res.Language) + "\n\n" + answer.Body
		answer.AIDisclosure, mem.Disclosed = true, true
		details["ai_disclosure"] = cmp.Or(res.Language, "en")
	}
	reply := wf.appendMessage(now, answer)
	mem.Answers = lastN(append(mem.Answers, reply.Seq), aiRecentAnswers)
	mem.Article = res.ArticleID
	details["message_seq"], details["outcome"] = itoa(reply.Seq), "answered"
	audit := []AuditRecord{{Seq: reply.Seq, Action: AuditCaseReply, Actor: Actor{Kind: "ai", ID: res.Engine}, At: now, Details: details}}
	// Experience-first tenants have people see a share of cases even when
	// the AI could answer: the customer has the answer, and a person follows.
	if customer.Seq == 1 && sampledForPeople(wf.state.CaseID, wf.in.Policy.Escalation.HumanShare) {
		wf.queue(ReasonHumanShare, now)
		audit = append(audit, AuditRecord{Seq: reply.Seq, Action: AuditCaseEscalate, Actor: SystemActor, Reason: ReasonHumanShare,
			At: now, Details: map[string]string{"queue": wf.state.Queue}})
	}
	return reply, audit
}

// handOver queues the case for people with the reason and tells the customer
// so in their language; details describe the decision for the audit trail.
func (wf *caseWorkflow) handOver(now time.Time, reason, lang string, details map[string]string) (Message, []AuditRecord) {
	wf.queue(reason, now)
	details["queue"], details["outcome"] = wf.state.Queue, "escalated"
	reply := wf.appendMessage(now, Message{AuthorKind: AuthorSystem, Body: HandoffNoticeIn(lang)})
	return reply, []AuditRecord{
		{Seq: reply.Seq, Action: AuditCaseEscalate, Actor: SystemActor, Reason: reason, At: now, Details: details},
		{Seq: reply.Seq, Action: AuditCaseReply, Actor: SystemActor, Reason: "handoff", At: now,
			Details: map[string]string{"message_seq": itoa(reply.Seq), "engine": "handoff"}},
	}
}

// queue puts the case in the queue for people with the escalation reason:
// the one its fields' rules name, else the queue of the skill it needs
// (routing) or the general one; the first-response clock starts.
func (wf *caseWorkflow) queue(reason string, now time.Time) {
	q := DefaultQueue
	if wf.has.routing {
		q = skillQueue(wf.state.AI)
		wf.state.Language = wf.state.AI.Language
	}
	if ruled, _ := wf.ruled(); ruled != "" {
		q = ruled
	}
	wf.enqueue(q)
	wf.state.Escalation = reason
	wf.startClock(ClockFirstResponse, now)
}

// askAI runs the AI turn as a local activity: it reads an in-memory index
// and answers in milliseconds, so a round trip through the server's task
// queue would cost more than the work. A failing engine is retried for
// AIBudget: the AI reads PostgreSQL, and a restart of it (seconds) must not
// hand a case to people that the AI can answer. A customer whose request
// times out meanwhile is answered 503 and retries with the same key, which
// finds this update still running and gets its answer. Past the budget the
// case goes to people (ai_failure).
func askAI(ctx workflow.Context, in AITurnInput) (AITurnResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    3 * time.Second,
		ScheduleToCloseTimeout: AIBudget,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 2 * time.Second},
	})
	var res AITurnResult
	err := result(ctx, workflow.ExecuteLocalActivity(ctx, ActivityAITurn, in), &res)
	return res, err
}

// AIBudget is how long an AI turn is retried before the case is handed to
// people as ai_failure: longer than a dependency's restart.
const AIBudget = 30 * time.Second

// decisionDetails is what the audit trail keeps of an AI decision: engine,
// model, article, confidence and emotion, never the message text.
func decisionDetails(r AITurnResult) map[string]string {
	f := ftoa
	d := map[string]string{
		"engine": r.Engine, "model": r.Model, "language": r.Language, "confidence": f(r.Confidence),
		"anger": f(r.Anger), "anxiety": f(r.Anxiety), "sadness": f(r.Sadness), "negativity": f(r.Negativity), "distress": f(r.Distress),
		"out_of_scope": strconv.FormatBool(r.OutOfScope),
	}
	if r.ArticleID != "" {
		d["article_id"], d["article_version"] = r.ArticleID, itoa(r.ArticleVersion)
	}
	if r.Intent != "" {
		d["intent"] = r.Intent
	}
	if r.SensitiveTopic != "" {
		d["sensitive_topic"] = r.SensitiveTopic
	}
	if len(r.Intents) > 1 {
		d["intents"] = strings.Join(r.Intents, ",")
	}
	if len(r.Citations) > 0 {
		d["citations"] = strings.Join(r.Citations, ",")
	}
	if r.Fallback != "" {
		d["fallback"] = r.Fallback
	}
	return d
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }

func lastN[T any](xs []T, n int) []T {
	if len(xs) > n {
		return slices.Clone(xs[len(xs)-n:])
	}
	return xs
}

func (wf *caseWorkflow) validateFeedback(_ workflow.Context, in FeedbackInput) error {
	if wf.state.Status == StatusClosed {
		return temporal.NewApplicationError("case is closed", ErrTypeCaseClosed)
	}
	if !slices.Contains(wf.state.AI.Answers, in.Seq) {
		return temporal.NewApplicationError("the message is not a recent AI answer of this case", ErrTypeNotAnAnswer)
	}
	return nil
}

// feedback records the customer's verdict on an AI answer, once per answer
// (a retry changes nothing). A helpful answer while the AI has the case
// resolves it; enough unhelpful ones hand it to people.
func (wf *caseWorkflow) feedback(ctx workflow.Context, in FeedbackInput) (CaseState, error) {
	if err := wf.validateFeedback(ctx, in); err != nil {
		return CaseState{}, err
	}
	mem := &wf.state.AI
	if slices.Contains(mem.Rated, in.Seq) {
		return wf.state.Reported(), nil
	}
	now := workflow.Now(ctx)
	mem.Rated = lastN(append(mem.Rated, in.Seq), aiRecentAnswers)
	seq := wf.step(now)
	audit := []AuditRecord{{Seq: seq, Action: AuditCaseFeedback, Actor: in.Actor, At: now,
		Details: map[string]string{"message_seq": itoa(in.Seq), "helpful": strconv.FormatBool(in.Helpful)}}}
	switch {
	case wf.state.Status != StatusAIHandling:
		// People have the case: the verdict is kept, the case stays with them.
	case in.Helpful:
		wf.state.Status, wf.state.Resolution, wf.state.ResolvedAt = StatusResolved, "answered", &now
		wf.stopAllClocks(now, true)
		audit = append(audit, AuditRecord{Seq: seq, Action: AuditCaseResolve, Actor: in.Actor, Reason: "answered", At: now,
			Details: map[string]string{"by": "ai"}})
	default:
		mem.Unhelpful++
		if mem.Unhelpful >= wf.in.Policy.Escalation.UnhelpfulAnswers {
			wf.queue(ReasonAIUnhelpful, now)
			audit = append(audit, AuditRecord{Seq: seq, Action: AuditCaseEscalate, Actor: SystemActor, Reason: ReasonAIUnhelpful, At: now,
				Details: map[string]string{"queue": wf.state.Queue, "unhelpful_answers": strconv.Itoa(mem.Unhelpful)}})
		}
	}
	return wf.commit(ctx, nil, audit...)
}
