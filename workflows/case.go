package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// PlaceholderReply answers customer messages until the AI layer is wired in.
// It is stored with Placeholder set, so nobody mistakes it for an AI answer.
const PlaceholderReply = "Thank you, we have received your message. [placeholder: no AI answer yet — automated answers are not enabled]"

// CaseWorkflow is the durable process of one customer case. It lives until the
// case is closed; customer messages and staff actions arrive as updates.
func CaseWorkflow(ctx workflow.Context, in CaseInput) (CaseResult, error) {
	wf := &caseWorkflow{}
	if err := wf.setup(ctx, in); err != nil {
		return CaseResult{}, err
	}
	return wf.run(ctx)
}

type caseWorkflow struct {
	in    CaseInput // as started, for the next run
	state CaseState
}

func (wf *caseWorkflow) setup(ctx workflow.Context, in CaseInput) error {
	now := workflow.Now(ctx)
	wf.in = in
	wf.in.Carried = nil
	wf.state = CaseState{
		TenantID:    in.TenantID,
		CaseID:      in.CaseID,
		CustomerRef: in.CustomerRef,
		Channel:     in.Channel,
		Subject:     in.Subject,
		Priority:    in.Priority,
		Status:      StatusAIHandling,
		Policy:      PolicyRef{Profile: in.Policy.Profile, Version: in.Policy.Version},
		OpenedAt:    now,
		UpdatedAt:   now,
	}
	if in.Carried != nil { // a continued run picks up where the last one stopped
		wf.state = *in.Carried
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CaseState, error) {
		return wf.state, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePostMessage, wf.postMessage,
		workflow.UpdateHandlerOptions{Validator: wf.validatePostMessage}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateClaim, wf.claim,
		workflow.UpdateHandlerOptions{Validator: wf.validateClaim}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdateClose, wf.close)
}

func (wf *caseWorkflow) run(ctx workflow.Context) (CaseResult, error) {
	// Runs started before continue-as-new existed never continue.
	canContinue := workflow.GetVersion(ctx, "continue-as-new", workflow.DefaultVersion, 1) == 1
	err := workflow.Await(ctx, func() bool {
		return wf.state.Status == StatusClosed || (canContinue && wf.historyFull(ctx))
	})
	if err != nil {
		return CaseResult{}, err
	}
	// Let in-flight updates reply to their callers before the run ends.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return CaseResult{}, err
	}
	if wf.state.Status != StatusClosed {
		next := wf.in
		carried := wf.state
		next.Carried = &carried
		return CaseResult{}, workflow.NewContinueAsNewError(ctx, CaseWorkflowName, next)
	}
	return CaseResult{State: wf.state}, nil
}

// historyFull says the run's history is long enough to continue as new.
func (wf *caseWorkflow) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	limit := wf.in.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

func (wf *caseWorkflow) validatePostMessage(_ workflow.Context, in PostMessageInput) error {
	if wf.state.Status == StatusClosed {
		return temporal.NewApplicationError("case is closed", ErrTypeCaseClosed)
	}
	if reason := ValidateMessageBody(in.Body); reason != "" {
		return temporal.NewApplicationError(reason, ErrTypeInvalidMessage)
	}
	return nil
}

func (wf *caseWorkflow) postMessage(ctx workflow.Context, in PostMessageInput) (PostMessageResult, error) {
	handoff := workflow.GetVersion(ctx, "human-handoff", workflow.DefaultVersion, 1) == 1
	now := workflow.Now(ctx)
	action := AuditCaseMessage
	if wf.state.Messages == 0 {
		action = AuditCaseOpen
	}
	customer := wf.appendMessage(now, Message{AuthorKind: AuthorCustomer, AuthorID: in.Actor.ID, Body: in.Body, ClientKey: in.ClientKey})
	audit := []AuditRecord{{Seq: customer.Seq, Action: action, Actor: in.Actor, At: now,
		Details: map[string]string{"message_seq": itoa(customer.Seq), "channel": wf.state.Channel}}}
	var reply Message
	switch {
	case handoff && wf.state.Status != StatusAIHandling:
		// A person owns, or is about to own, the case: the AI stays silent.
	case handoff && AsksForPerson(in.Body):
		wf.state.Status, wf.state.Queue, wf.state.Escalation = StatusQueued, DefaultQueue, ReasonCustomerRequest
		audit = append(audit, AuditRecord{Seq: customer.Seq, Action: AuditCaseEscalate, Actor: SystemActor,
			Reason: ReasonCustomerRequest, At: now, Details: map[string]string{"queue": DefaultQueue}})
		reply = wf.appendMessage(now, Message{AuthorKind: AuthorSystem, Body: HandoffNotice})
		audit = append(audit, AuditRecord{Seq: reply.Seq, Action: AuditCaseReply, Actor: SystemActor, Reason: "handoff", At: now,
			Details: map[string]string{"message_seq": itoa(reply.Seq), "engine": "handoff"}})
	default:
		reply = wf.appendMessage(now, Message{AuthorKind: AuthorSystem, Body: PlaceholderReply, Placeholder: true})
		audit = append(audit, AuditRecord{Seq: reply.Seq, Action: AuditCaseReply, Actor: SystemActor, Reason: "placeholder", At: now,
			Details: map[string]string{"message_seq": itoa(reply.Seq), "engine": "placeholder"}})
	}
	// Snapshot before blocking: another update may change the state meanwhile,
	// and the projection keeps whichever snapshot has the higher sequence.
	snapshot := wf.state
	msgs := []Message{customer}
	if reply.Seq != 0 {
		msgs = append(msgs, reply)
	}
	if err := record(ctx, RecordCaseInput{Case: snapshot, Messages: msgs, Audit: audit}); err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: customer, Reply: reply}, nil
}

func (wf *caseWorkflow) validateClaim(_ workflow.Context, in ClaimInput) error {
	if wf.state.Status != StatusQueued {
		return temporal.NewApplicationError("the case is not waiting in a queue", ErrTypeNotClaimable)
	}
	if in.Actor.ID == "" {
		return temporal.NewApplicationError("a claim needs an agent", ErrTypeNotClaimable)
	}
	return nil
}

// claim gives the case to the first agent whose claim runs; claims accepted
// together (validated before the first ran) find it taken and fail.
func (wf *caseWorkflow) claim(ctx workflow.Context, in ClaimInput) (CaseState, error) {
	if wf.state.Status != StatusQueued {
		return CaseState{}, temporal.NewApplicationError("another agent claimed the case first", ErrTypeNotClaimable)
	}
	now := workflow.Now(ctx)
	wf.state.Status, wf.state.Assignee = StatusAssigned, in.Actor.ID
	wf.state.Seq++
	wf.state.UpdatedAt = now
	snapshot := wf.state
	audit := []AuditRecord{{Seq: snapshot.Seq, Action: AuditCaseClaim, Actor: in.Actor, At: now,
		Details: map[string]string{"queue": snapshot.Queue}}}
	if err := record(ctx, RecordCaseInput{Case: snapshot, Audit: audit}); err != nil {
		return CaseState{}, err
	}
	return snapshot, nil
}

func (wf *caseWorkflow) close(ctx workflow.Context, in CloseInput) (CaseState, error) {
	if wf.state.Status == StatusClosed {
		return wf.state, nil // closing twice is a retry, not an error
	}
	now := workflow.Now(ctx)
	wf.state.Status = StatusClosed
	wf.state.ClosedAt = &now
	wf.state.CloseReason = in.Reason
	wf.state.Seq++
	wf.state.UpdatedAt = now
	snapshot := wf.state
	audit := []AuditRecord{{Seq: snapshot.Seq, Action: AuditCaseClose, Actor: in.Actor, Reason: in.Reason, At: now}}
	if err := record(ctx, RecordCaseInput{Case: snapshot, Audit: audit}); err != nil {
		return CaseState{}, err
	}
	return snapshot, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (wf *caseWorkflow) appendMessage(now time.Time, m Message) Message {
	wf.state.Seq++
	wf.state.Messages++
	wf.state.UpdatedAt = now
	m.Seq = wf.state.Seq
	m.At = now
	return m
}

// record writes the projection as a local activity: it is idempotent, short,
// and on the hot path of every message, so it should not cost a round trip
// through the server's task queues. It retries until PostgreSQL is back, so
// the projection never silently misses an event.
func record(ctx workflow.Context, in RecordCaseInput) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
		},
	})
	return workflow.ExecuteLocalActivity(ctx, ActivityRecordCase, in).Get(ctx, nil)
}

// Register registers every workflow type of this package with a worker or replayer.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(CaseWorkflow, workflow.RegisterOptions{Name: CaseWorkflowName})
}
