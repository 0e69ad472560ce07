// Package activities implements the side effects of Tandem's workflows:
// the case projection and its audit entries, the AI turn, routing's choice
// of agent, and the refund saga's checks, steps, payments and ledger
// postings. Workflows call them by the names declared in package workflows.
package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"tandem/activities/ai"
	"tandem/activities/money"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/policies/service"
	"tandem/workflows"
)

// Activities holds the dependencies of every activity.
type Activities struct {
	Store   *store.Store
	AI      ai.Engine            // the local engine
	LLM     ai.Engine            // the LLM engine, for tenants whose policy chooses it; nil if not configured
	Orders  payments.OrderSystem // says what customers bought; nil: the built-in order book
	Gateway payments.Gateway     // pays refunds out
	// Due wakes webhook delivery loops when a delivery is written; nil:
	// they poll (every 50 ms).
	Due *webhooks.DeliveriesDue
	// WebhookRecheck bounds how long an idle delivery loop waits for a
	// notification; zero: 10 s.
	WebhookRecheck time.Duration
	// Temporal sends bulk actions' updates to the cases' workflows.
	Temporal client.Client
}

// Register registers every activity under the name the workflows use.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.RecordCase, activity.RegisterOptions{Name: workflows.ActivityRecordCase})
	r.RegisterActivityWithOptions(a.AITurn, activity.RegisterOptions{Name: workflows.ActivityAITurn})
	r.RegisterActivityWithOptions(a.PickAgent, activity.RegisterOptions{Name: workflows.ActivityPickAgent})
	r.RegisterActivityWithOptions(a.RequestRefund, activity.RegisterOptions{Name: workflows.ActivityRequestRefund})
	r.RegisterActivityWithOptions(a.SetRefundStatus, activity.RegisterOptions{Name: workflows.ActivitySetRefundStatus})
	r.RegisterActivityWithOptions(a.PayRefund, activity.RegisterOptions{Name: workflows.ActivityPayRefund})
	r.RegisterActivityWithOptions(a.PostLedger, activity.RegisterOptions{Name: workflows.ActivityPostLedger})
	r.RegisterActivityWithOptions(a.DeliverWebhooks, activity.RegisterOptions{Name: workflows.ActivityDeliverWebhooks})
	r.RegisterActivityWithOptions(a.BulkPage, activity.RegisterOptions{Name: workflows.ActivityBulkPage})
	r.RegisterActivityWithOptions(a.BulkFinish, activity.RegisterOptions{Name: workflows.ActivityBulkFinish})
}

// RequestRefund checks the request against the order system and records it;
// a refusal is a result (the rule), not an error, so the saga records it
// rather than retrying. A retry reports where the recorded request stands.
func (a *Activities) RequestRefund(ctx context.Context, in workflows.RefundInput) (workflows.RefundRequestResult, error) {
	orders := a.Orders
	if orders == nil {
		orders = payments.Orders{Store: a.Store}
	}
	var order *store.Order
	o, err := orders.Order(ctx, in.TenantID, in.OrderRef)
	switch {
	case err == nil:
		order = &o
	case !errors.Is(err, money.ErrOrderNotFound):
		return workflows.RefundRequestResult{}, fmt.Errorf("order system: %w", err)
	}
	items, err := json.Marshal(in.Items)
	if err != nil {
		return workflows.RefundRequestResult{}, err
	}
	evidence, err := json.Marshal(in.Evidence)
	if err != nil {
		return workflows.RefundRequestResult{}, err
	}
	period := service.DefaultCompensationPeriod
	if in.Policy.CompensationPeriod > 0 {
		period = time.Duration(in.Policy.CompensationPeriod)
	}
	// The budget is in the policy's currency, or in the request's where the
	// policy has limits in it; it counts compensations in that currency.
	budget := money.Budget{Amount: in.Policy.CompensationBudget, Currency: in.Policy.Currency, Since: time.Now().Add(-period)}
	if limits, listed := in.Policy.ForCurrency(in.Currency); listed {
		budget.Amount, budget.Currency = "", in.Currency
		if limits.CompensationBudget > 0 {
			budget.Amount = service.DecimalAmount(limits.CompensationBudget, in.Currency)
		}
	}
	rec, created, err := a.Store.RequestRefund(ctx, store.Refund{TenantID: in.TenantID, ID: in.RefundID, CaseID: in.CaseID, OrderRef: in.OrderRef,
		Kind: in.Kind, Amount: in.Amount, Currency: in.Currency, ReasonCode: in.ReasonCode, RequestedBy: in.RequestedBy.ID,
		Items: items, Evidence: evidence}, order, budget)
	var refused money.Refusal
	switch {
	case errors.As(err, &refused):
		return workflows.RefundRequestResult{Refused: string(refused)}, nil
	case err != nil:
		return workflows.RefundRequestResult{}, err
	case !created && rec.Status == workflows.RefundRejected && rec.AutoRejected && !rec.Appealable && rec.Rule != "":
		return workflows.RefundRequestResult{Refused: rec.Rule}, nil // refused the first time round
	}
	out := workflows.RefundRequestResult{}
	if order != nil {
		out.PlacedAt = order.PlacedAt
	}
	if !created {
		out.Recorded = rec.Status
		out.Settled = settled(rec)
	}
	return out, nil
}

// settled says a refund's record shows a step that no workflow task of its
// saga before the first wait takes: those reach approved, awaiting
// approval, issued or an appealable rejection, and nothing a person did.
func settled(r store.Refund) bool {
	if r.DecidedBy != "" || r.AppealedBy != "" {
		return true
	}
	switch r.Status {
	case workflows.RefundApproved, workflows.RefundAwaitingApproval, workflows.RefundIssued:
		return false
	case workflows.RefundRejected:
		return !r.Appealable
	}
	return true
}

// SetRefundStatus records a step of the saga: where the refund stands, its
// entry on the case's timeline and the notifications it owes.
func (a *Activities) SetRefundStatus(ctx context.Context, in workflows.RefundStatusInput) error {
	if in.Action == "" { // a run from before refund-v2
		return a.Store.SetRefundStatus(ctx, in.TenantID, in.RefundID, in.Status)
	}
	st := in.State
	r := store.Refund{TenantID: in.TenantID, ID: in.RefundID, CaseID: st.CaseID, Status: in.Status, Rule: st.Rule,
		AutoRejected: st.AutoRejected, Appealable: st.Appealable, DecidedBy: st.DecidedBy, Overturned: st.Overturned,
		EscalatedAt: st.EscalatedAt, PaymentRef: st.PaymentRef}
	if st.Appeal != nil {
		r.AppealedBy, r.AppealedAt = st.Appeal.Actor.ID, &st.Appeal.At
	}
	details, err := json.Marshal(map[string]string{"refund_id": in.RefundID, "status": in.Status, "kind": st.Kind,
		"amount": st.Amount, "currency": st.Currency}) // map keys are sorted: stable bytes
	if err != nil {
		return err
	}
	return a.Store.RecordRefundStep(ctx, store.RefundStep{
		Refund: r,
		Step:   in.Step,
		Audit: store.AuditEvent{
			TenantID: in.TenantID, ID: fmt.Sprintf("%s:%d:%s", workflows.RefundWorkflowID(in.TenantID, in.RefundID), in.Step, in.Action),
			OccurredAt: in.At, ActorKind: in.Actor.Kind, ActorID: in.Actor.ID, Action: in.Action, ObjectType: "refund", ObjectID: in.RefundID,
			CaseID: st.CaseID, Decision: "allow", Outcome: "success", Reason: st.Rule, Details: string(details),
		},
		NotifyTo:  in.Notify,
		Notifying: in.Action,
	})
}

// PayRefund pays through the gateway; a decline is final. An attempt after
// the first (or any, with LookUpFirst) asks the provider first: the last one may have paid and lost
// its answer, and a provider's idempotency keys expire (Stripe's after a
// day), so a payment found is not sent again.
func (a *Activities) PayRefund(ctx context.Context, in workflows.PayRefundInput) (workflows.PayRefundResult, error) {
	if activity.GetInfo(ctx).Attempt > 1 || in.LookUpFirst {
		found, err := a.Gateway.Lookup(ctx, in.TenantID, in.Key)
		if err != nil {
			return workflows.PayRefundResult{}, fmt.Errorf("look up payment %s: %w", in.Key, err)
		}
		if found.Paid {
			return workflows.PayRefundResult{Reference: found.Reference}, nil
		}
	}
	p, err := a.Gateway.Pay(ctx, in.TenantID, in.Key, in.Amount, in.Currency)
	if errors.Is(err, payments.ErrDeclined) {
		return workflows.PayRefundResult{}, temporal.NewNonRetryableApplicationError("declined", workflows.ErrTypeDeclined, err)
	}
	return workflows.PayRefundResult{Reference: p.Reference}, err
}

// PostLedger writes a refund's ledger movements, each once.
func (a *Activities) PostLedger(ctx context.Context, in workflows.PostLedgerInput) error {
	entries := make([]store.LedgerEntry, 0, len(in.Movements))
	for _, m := range in.Movements {
		entries = append(entries, store.LedgerEntry{TenantID: in.TenantID, ID: m.ID, RefundID: &in.RefundID, DebitAccount: m.DebitAccount,
			CreditAccount: m.CreditAccount, Amount: m.Amount, Currency: m.Currency, Memo: m.Memo, PostedAt: in.At})
	}
	return a.Store.PostLedger(ctx, entries)
}

// MetricAITurn is the AI turn's latency, by engine and outcome (answered,
// no_answer, error).
const MetricAITurn = "tandem_ai_turn_latency"

// AITurn asks the tenant's AI engine about a customer message.
func (a *Activities) AITurn(ctx context.Context, in workflows.AITurnInput) (workflows.AITurnResult, error) {
	engine, fallback := a.AI, ""
	if in.Engine == ai.LLMEngineName {
		if a.LLM != nil {
			engine = a.LLM
		} else {
			fallback = "llm_not_configured"
		}
	}
	start := time.Now()
	r, err := engine.Respond(ctx, ai.Request{TenantID: in.TenantID, CaseID: in.CaseID, Message: in.Message, Previous: in.Previous, Notes: in.Notes})
	outcome := "answered"
	switch {
	case err != nil:
		outcome = "error"
	case r.OutOfScope || r.Answer == "":
		outcome = "no_answer"
	}
	activity.GetMetricsHandler(ctx).WithTags(map[string]string{"engine": cmp.Or(r.Engine, in.Engine, "local"), "outcome": outcome}).
		Timer(MetricAITurn).Record(time.Since(start))
	if err != nil {
		return workflows.AITurnResult{}, fmt.Errorf("ai turn: %w", err)
	}
	return workflows.AITurnResult{
		Engine: r.Engine, Model: r.Model, Answer: r.Answer, ArticleID: r.ArticleID, ArticleVersion: r.ArticleVersion,
		Intent: r.Intent, Confidence: r.Confidence, OutOfScope: r.OutOfScope, Language: r.Language,
		Anger: r.Emotion.Anger, Anxiety: r.Emotion.Anxiety, Sadness: r.Emotion.Sadness, Negativity: r.Emotion.Negativity, Distress: r.Emotion.Distress,
		SensitiveTopic: r.SensitiveTopic, Intents: r.Intents, Repeated: r.Repeated, Domain: r.Domain,
		Citations: r.Citations, Fallback: cmp.Or(r.Fallback, fallback),
	}, nil
}

// PickAgent chooses the agent to offer a queued case to; see store.PickAgent.
func (a *Activities) PickAgent(ctx context.Context, in workflows.PickAgentInput) (workflows.PickAgentResult, error) {
	id, err := a.Store.PickAgent(ctx, in.TenantID, in.Queue, in.Language, in.Exclude)
	return workflows.PickAgentResult{AgentID: id}, err
}

// attachmentIDs are the uploads a message carries, which its write links to it.
func attachmentIDs(files []workflows.Attachment) []string {
	var ids []string
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	return ids
}

// RecordCase writes the case projection and new messages at the position
// the workflow gave. Idempotent, and the committed write wins: see store.RecordCase.
func (a *Activities) RecordCase(ctx context.Context, in workflows.RecordCaseInput) error {
	c := in.Case
	row := CaseRow(c, in.Pos)
	msgs := make([]store.Message, 0, len(in.Messages))
	for _, m := range in.Messages {
		msgs = append(msgs, store.Message{
			TenantID:       c.TenantID,
			CaseID:         c.CaseID,
			Seq:            m.Seq,
			AuthorKind:     m.AuthorKind,
			AuthorID:       m.AuthorID,
			Body:           m.Body,
			Placeholder:    m.Placeholder,
			ArticleID:      optional(m.ArticleID),
			Model:          optional(m.Model),
			AIDisclosure:   m.AIDisclosure,
			ArticleVersion: optionalInt(m.ArticleVersion),
			ClientKey:      optional(m.ClientKey),
			Internal:       m.Internal,
			Mentions:       optional(strings.Join(m.Mentions, ",")),
			Attachments:    attachmentIDs(m.Attachments),
			CreatedAt:      m.At,
		})
	}
	audit := make([]store.AuditEvent, 0, len(in.Audit))
	for _, r := range in.Audit {
		details, err := json.Marshal(r.Details) // map keys are sorted: stable bytes
		if err != nil {
			return err
		}
		if r.Details == nil {
			details = []byte("{}")
		}
		audit = append(audit, store.AuditEvent{
			TenantID:   c.TenantID,
			ID:         fmt.Sprintf("%s:%d:%s", row.WorkflowID, r.Seq, r.Action),
			OccurredAt: r.At,
			ActorKind:  r.Actor.Kind,
			ActorID:    r.Actor.ID,
			Action:     r.Action,
			ObjectType: "case",
			ObjectID:   c.CaseID,
			CaseID:     c.CaseID,
			Decision:   "allow",
			Outcome:    "success",
			Reason:     r.Reason,
			Details:    string(details),
		})
	}
	row.ProjRun = activity.GetInfo(ctx).WorkflowExecution.RunID
	conflicts, err := a.Store.RecordCase(ctx, row, msgs, audit)
	for _, cf := range conflicts {
		// Not an error: the committed write has replaced what a lost
		// workflow task wrote, and the trail says so.
		activity.GetLogger(ctx).Warn("projection conflict repaired", "workflow_id", row.WorkflowID,
			"seq", cf.Seq, "kind", cf.Kind, "gen", in.Pos.Gen, "event", in.Pos.Event)
	}
	return err
}

// CaseRow is the projection row of a case's workflow state, written at pos.
func CaseRow(c workflows.CaseState, pos workflows.ProjectionPos) store.Case {
	return store.Case{
		TenantID:         c.TenantID,
		ID:               c.CaseID,
		WorkflowID:       workflows.CaseWorkflowID(c.TenantID, c.CaseID),
		CustomerRef:      c.CustomerRef,
		Channel:          c.Channel,
		Subject:          c.Subject,
		Priority:         c.Priority,
		Status:           c.Status,
		LastSeq:          c.Seq,
		OpenedAt:         c.OpenedAt,
		UpdatedAt:        c.UpdatedAt,
		ClosedAt:         c.ClosedAt,
		AssigneeID:       optional(c.Assignee),
		EscalationReason: optional(c.Escalation),
		ResolvedAt:       c.ResolvedAt,
		Resolution:       optional(c.Resolution),
		CloseReason:      optional(c.CloseReason),
		MergedInto:       optional(c.MergedInto),
		MergedFrom:       c.MergedFrom,
		Queue:            optional(c.Queue),
		PolicyProfile:    &c.Policy.Profile,
		PolicyVersion:    &c.Policy.Version,
		SLADueAt:         c.SLA.Due,
		SLABreachedAt:    c.SLA.Breach,
		OfferedTo:        optional(c.OfferedTo),
		Tags:             c.Tags,
		Fields:           clearFields(c.Fields, false),
		TextFields:       clearFields(c.Fields, true),
		ProjGen:          pos.Gen,
		ProjEvent:        pos.Event,
	}
}

// clearFields are the case's field values that are sealed, or those that are not.
func clearFields(fs []workflows.FieldValue, sealed bool) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		if f.Sealed == sealed {
			out[f.Name] = f.Value
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optionalInt is nil for zero: a column with nothing to say.
func optionalInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
