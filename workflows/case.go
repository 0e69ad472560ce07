package workflows

import (
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// PlaceholderReply answered customer messages of runs started before the AI
// turn (case-v2); their histories replay it. It is stored with Placeholder
// set, so nobody mistakes it for an AI answer.
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
	has   features // what this run's code does, decided when it started
	cal   calendar // the pinned policy's business hours
	// refundSignals carries refund sagas' failures (drainRefundSignals).
	refundSignals workflow.ReceiveChannel
}

// features are what a run does, as the version marker "case-v2" recorded
// when it started: read them, not workflow.GetVersion. A run started under
// it records that one marker, which implies every change before it; runs
// started earlier ask for those changes where they first need them
// (humanHandoff, lifecycle, continuesAsNew, disclosesAI).
type features struct {
	aiTurn       bool // the AI answers (version 1); before it, a marked placeholder
	slaClock     bool // SLA clocks run (version 1)
	routing      bool // queued cases are offered to agents (version 1); before it, claims only
	aiDisclosure bool // the first AI answer says it is an AI (version 2)
	keysByTime   bool // every keyed update is remembered for KeyRetention, staff actions too (version 3)
}

// humanHandoff: a customer asking for a person is handed over.
func (wf *caseWorkflow) humanHandoff(ctx workflow.Context) bool {
	return wf.has.aiTurn || workflow.GetVersion(ctx, "human-handoff", workflow.DefaultVersion, 1) == 1
}

// lifecycle: people resolve, wait for the customer and reopen cases.
func (wf *caseWorkflow) lifecycle(ctx workflow.Context) bool {
	return wf.has.aiTurn || workflow.GetVersion(ctx, "lifecycle", workflow.DefaultVersion, 1) == 1
}

// continuesAsNew: a long history continues in a new run.
func (wf *caseWorkflow) continuesAsNew(ctx workflow.Context) bool {
	return wf.has.aiTurn || workflow.GetVersion(ctx, "continue-as-new", workflow.DefaultVersion, 1) == 1
}

// disclosesAI: the first AI answer says it is an AI ("ai-disclosure" in
// runs started under version 1 of "case-v2").
func (wf *caseWorkflow) disclosesAI(ctx workflow.Context) bool {
	return wf.has.aiDisclosure || workflow.GetVersion(ctx, "ai-disclosure", workflow.DefaultVersion, 1) == 1
}

func (wf *caseWorkflow) setup(ctx workflow.Context, in CaseInput) error {
	now := workflow.Now(ctx)
	wf.in = in
	wf.in.Carried = nil
	wf.state = CaseState{
		CaseOpening: in.CaseOpening,
		Status:      StatusAIHandling,
		Policy:      PolicyRef{Profile: in.Policy.Profile, Version: in.Policy.Version},
		OpenedAt:    now,
		UpdatedAt:   now,
	}
	if in.Carried != nil { // a continued run picks up where the last one stopped
		wf.state = *in.Carried
	}
	v := workflow.GetVersion(ctx, "case-v2", workflow.DefaultVersion, 3)
	wf.has = features{aiTurn: v >= 1, slaClock: v >= 1, routing: v >= 1, aiDisclosure: v >= 2, keysByTime: v >= 3}
	if wf.has.slaClock {
		cal, err := newCalendar(in.Policy.BusinessHours)
		if err != nil {
			return err
		}
		wf.cal = cal
		if in.Carried == nil {
			wf.startClock(ClockResolution, now)
		}
	}
	wf.refundSignals = workflow.GetSignalChannel(ctx, SignalRefundFailed)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CaseState, error) {
		st := wf.state
		st.ReadAt = &ProjectionPos{Gen: st.Gen, Event: int64(workflow.GetInfo(ctx).GetCurrentHistoryLength())}
		return st, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryPolicy, func() (PinnedPolicy, error) {
		return wf.in.Policy, nil
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
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReply, wf.reply,
		workflow.UpdateHandlerOptions{Validator: wf.validateAgentMessage}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRequestInfo, wf.requestInfo,
		workflow.UpdateHandlerOptions{Validator: wf.validateAgentMessage}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateMergeInto, wf.mergeInto,
		workflow.UpdateHandlerOptions{Validator: wf.validateMergeInto}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateMergeFrom, wf.mergeFrom,
		workflow.UpdateHandlerOptions{Validator: wf.validateMergeFrom}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApplyMacro, wf.applyMacro,
		workflow.UpdateHandlerOptions{Validator: wf.validateApplyMacro}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSetFields, wf.setFields,
		workflow.UpdateHandlerOptions{Validator: wf.validateSetFields}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAddNote, wf.addNote,
		workflow.UpdateHandlerOptions{Validator: wf.validateNote}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRelease, wf.release,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, in ActorInput) error { return wf.validateOwnerAction(ctx, in.Actor) }}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResolve, wf.resolve,
		workflow.UpdateHandlerOptions{Validator: wf.validateResolve}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReassign, wf.reassign,
		workflow.UpdateHandlerOptions{Validator: wf.validateReassign}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateFeedback, wf.feedback,
		workflow.UpdateHandlerOptions{Validator: wf.validateFeedback}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateEscalate, wf.escalate,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, in EscalateInput) error { return wf.validateOwnerAction(ctx, in.Actor) }}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRequestRefund, wf.requestRefund,
		workflow.UpdateHandlerOptions{Validator: wf.validateRequestRefund}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdateClose, wf.close)
}

func (wf *caseWorkflow) run(ctx workflow.Context) (CaseResult, error) {
	canContinue := wf.continuesAsNew(ctx)
	lifecycle := wf.lifecycle(ctx) // else a run never waits out a reopen window
	full := func() bool { return canContinue && wf.historyFull(ctx) }
	for {
		err := wf.await(ctx, func() bool {
			return wf.state.Status == StatusClosed || full() || (lifecycle && wf.state.Status == StatusResolved)
		})
		if err != nil {
			return CaseResult{}, err
		}
		if wf.state.Status != StatusResolved || full() {
			break
		}
		// Resolved: close when the reopen window passes, unless the customer
		// reopens first. The deadline is absolute, so a continued run re-arms
		// the timer from it.
		deadline := wf.state.ResolvedAt.Add(wf.reopenWindow())
		stillResolved := true
		if wait := deadline.Sub(workflow.Now(ctx)); wait > 0 {
			changed, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return wf.state.Status != StatusResolved || full() })
			if err != nil {
				return CaseResult{}, err
			}
			stillResolved = !changed
		}
		if stillResolved {
			if _, err := wf.closeCase(ctx, SystemActor, "reopen window passed"); err != nil {
				return CaseResult{}, err
			}
		}
	}
	// Let in-flight updates reply to their callers before the run ends.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return CaseResult{}, err
	}
	if wf.state.Status != StatusClosed {
		if err := wf.drainRefundSignals(ctx); err != nil {
			return CaseResult{}, err
		}
		next := wf.in
		carried := wf.state
		carried.Gen++
		next.Carried = &carried
		return CaseResult{}, workflow.NewContinueAsNewError(ctx, CaseWorkflowName, next)
	}
	return CaseResult{State: wf.state}, nil
}

// await blocks until done holds, routing queued cases to agents and firing
// SLA warnings, breaches and lapsed offers as their times come. A timer is
// armed only for the next of these, and re-armed only when a change moves it.
func (wf *caseWorkflow) await(ctx workflow.Context, done func() bool) error {
	for !done() {
		if wf.refundSignals.Len() > 0 {
			if err := wf.drainRefundSignals(ctx); err != nil {
				return err
			}
			continue
		}
		if wf.state.RoutePending && wf.state.Status == StatusQueued {
			if err := wf.route(ctx); err != nil {
				return err
			}
			continue
		}
		next, armed := wf.nextTimedEvent()
		moved := func() bool {
			n, ok := wf.nextTimedEvent()
			return ok != armed || !n.Equal(next) || (wf.state.RoutePending && wf.state.Status == StatusQueued) || wf.refundSignals.Len() > 0
		}
		if !armed {
			if err := workflow.Await(ctx, func() bool { return done() || moved() }); err != nil {
				return err
			}
			continue
		}
		if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
			woke, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return done() || moved() })
			if err != nil {
				return err
			}
			if woke {
				continue
			}
		}
		if err := wf.fireSLA(ctx); err != nil {
			return err
		}
		if due, offered := wf.offerDue(); offered && !due.After(workflow.Now(ctx)) {
			if err := wf.lapseOffer(ctx, workflow.Now(ctx)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (wf *caseWorkflow) reopenWindow() time.Duration {
	if w := time.Duration(wf.in.Policy.ReopenWindow); w > 0 {
		return w
	}
	return DefaultReopenWindow
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

func (wf *caseWorkflow) validatePostMessage(ctx workflow.Context, in PostMessageInput) error {
	if in.Scope != nil && !in.Scope.Sees(wf.state.Channel, wf.state.CustomerRef) {
		return temporal.NewApplicationError("the case is not the caller's to write to", ErrTypeNotInScope)
	}
	if _, ok := wf.applied(workflow.GetCurrentUpdateInfo(ctx).ID); ok && wf.state.Status != StatusClosed {
		return nil // a retry from an earlier run: answered, not applied again
	}
	if wf.state.Status == StatusClosed {
		return temporal.NewApplicationError("case is closed", ErrTypeCaseClosed)
	}
	if wf.state.Messages >= MaxMessagesPerCase {
		return temporal.NewApplicationError("a case holds at most 5000 messages; open another case", ErrTypeCaseFull)
	}
	if reason := ValidateMessageBody(in.Body); reason != "" {
		return temporal.NewApplicationError(reason, ErrTypeInvalidMessage)
	}
	return validateAttachments(in.Attachments)
}

// validateAttachments bounds the files a message carries.
func validateAttachments(files []Attachment) error {
	if len(files) > MaxAttachments {
		return temporal.NewApplicationError("a message carries at most "+strconv.Itoa(MaxAttachments)+" attachments", ErrTypeInvalidMessage)
	}
	return nil
}

func (wf *caseWorkflow) postMessage(ctx workflow.Context, in PostMessageInput) (PostMessageResult, error) {
	updateID := workflow.GetCurrentUpdateInfo(ctx).ID
	if prior, ok := wf.applied(updateID); ok && workflow.GetVersion(ctx, "applied-messages", workflow.DefaultVersion, 1) == 1 {
		// A retry from an earlier run (Temporal answers one within a run itself).
		return PostMessageResult{Case: wf.state.Reported(), Message: Message{Seq: prior.Seq}, Reply: Message{Seq: prior.Reply}, Duplicate: true}, nil
	}
	handoff := wf.humanHandoff(ctx)
	now := workflow.Now(ctx)
	action := AuditCaseMessage
	if wf.state.Messages == 0 {
		action = AuditCaseOpen
	}
	lifecycle := wf.lifecycle(ctx)
	customer := wf.appendMessage(now, Message{AuthorKind: AuthorCustomer, AuthorID: in.Actor.ID, Body: in.Body, ClientKey: in.ClientKey,
		Attachments: in.Attachments})
	audit := []AuditRecord{{Seq: customer.Seq, Action: action, Actor: in.Actor, At: now,
		Details: map[string]string{"message_seq": itoa(customer.Seq), "channel": wf.state.Channel}}}
	switch {
	case lifecycle && wf.state.Status == StatusResolved:
		// The customer writes again within the reopen window: the case goes
		// back to the AI, and from there to people if it must.
		wf.state.Status, wf.state.Assignee, wf.state.Queue = StatusAIHandling, "", ""
		wf.state.Resolution, wf.state.ResolvedAt = "", nil
		wf.state.AI.Unhelpful, wf.state.AI.Article = 0, "" // a fresh start for the AI
		wf.startClock(ClockResolution, now)                // resumes where resolving stopped it
		audit = append(audit, AuditRecord{Seq: customer.Seq, Action: AuditCaseReopen, Actor: in.Actor, At: now})
	case lifecycle && wf.state.Status == StatusWaiting:
		wf.state.Status = StatusInProgress // the customer answered; the person continues
		wf.resumeClocks(now)
		wf.startClock(ClockNextResponse, now)
	case slices.Contains(WithPerson, wf.state.Status):
		wf.startClock(ClockNextResponse, now) // the owner owes the customer an answer
	}
	var reply Message
	switch {
	case handoff && wf.state.Status != StatusAIHandling:
		// A person owns, or is about to own, the case: the AI stays silent.
	case wf.has.aiTurn:
		var aiAudit []AuditRecord
		reply, aiAudit = wf.aiTurn(ctx, customer)
		audit = append(audit, aiAudit...)
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
	if wf.in.Policy.Routing.OnMessages() {
		wf.applyRules(audit[0].Details) // on what the customer wrote and the AI read of it
	}
	if updateID == OpenUpdateID || in.ClientKey != "" {
		wf.remember(now, AppliedMessage{UpdateID: updateID, Seq: customer.Seq, Reply: reply.Seq})
	}
	msgs := []Message{customer}
	if reply.Seq != 0 {
		msgs = append(msgs, reply)
	}
	snapshot, err := wf.commit(ctx, msgs, audit...)
	if err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: customer, Reply: reply}, nil
}

// applied finds a customer message taken under updateID.
func (wf *caseWorkflow) applied(updateID string) (AppliedMessage, bool) {
	for _, a := range wf.state.Applied {
		if a.UpdateID == updateID {
			return a, true
		}
	}
	return AppliedMessage{}, false
}

// remember keeps a keyed update taken at now: for KeyRetention (and a
// margin) in runs under case-v2 version 3, at most maxAppliedByTime of them;
// the last maxApplied messages in earlier runs. Entries carried from an
// earlier run have no time: their retention starts now.
func (wf *caseWorkflow) remember(now time.Time, a AppliedMessage) {
	if !wf.has.keysByTime {
		wf.state.Applied = append(wf.state.Applied, a)
		if n := len(wf.state.Applied); n > maxApplied {
			wf.state.Applied = slices.Clone(wf.state.Applied[n-maxApplied:])
		}
		return
	}
	a.At = now
	kept := make([]AppliedMessage, 0, len(wf.state.Applied)+1)
	for _, e := range wf.state.Applied {
		if e.At.IsZero() {
			e.At = now
		}
		if now.Sub(e.At) <= KeyRetention+keyMargin {
			kept = append(kept, e)
		}
	}
	kept = append(kept, a)
	if n := len(kept); n > maxAppliedByTime {
		kept = kept[n-maxAppliedByTime:]
	}
	wf.state.Applied = kept
}

// keyedRetry says the update being handled is one the case took before, in
// an earlier run (within a run Temporal answers a known update ID itself):
// it is answered with the case as it stands, not applied again. Runs
// before case-v2 version 3 remember only messages.
func (wf *caseWorkflow) keyedRetry(ctx workflow.Context) bool {
	if !wf.has.keysByTime {
		return false
	}
	_, ok := wf.applied(updateOf(ctx))
	return ok
}

// change is one transition of a case: who makes it, how it is audited, and
// what it does to the state (apply returns the audit entry's details).
type change struct {
	actor  Actor
	update string // the ID of the update that asks for it, remembered for its retries; "": none
	action string
	reason string
	apply  func(now time.Time) map[string]string
}

// updateOf is the ID of the update being handled (only in an update's handler).
func updateOf(ctx workflow.Context) string { return workflow.GetCurrentUpdateInfo(ctx).ID }

// transition makes c at the workflow's now: it applies the change, takes the
// next sequence and records the case with the change's audit entry.
func (wf *caseWorkflow) transition(ctx workflow.Context, c change) (CaseState, error) {
	now := workflow.Now(ctx)
	details := c.apply(now)
	seq := wf.step(now)
	if c.update != "" && wf.has.keysByTime {
		wf.remember(now, AppliedMessage{UpdateID: c.update, Seq: seq})
	}
	return wf.commit(ctx, nil, AuditRecord{Seq: seq, Action: c.action, Actor: c.actor, Reason: c.reason, At: now, Details: details})
}

// ownerTransition is a transition that only the person who owns the case makes.
func (wf *caseWorkflow) ownerTransition(ctx workflow.Context, c change) (CaseState, error) {
	if wf.keyedRetry(ctx) {
		return wf.state.Reported(), nil
	}
	if err := wf.validateOwner(c.actor); err != nil { // re-checked: the case may have moved since validation
		return CaseState{}, err
	}
	return wf.transition(ctx, c)
}

// step takes the case's next sequence for a change made at now.
func (wf *caseWorkflow) step(now time.Time) int64 {
	wf.state.Seq++
	wf.state.UpdatedAt = now
	return wf.state.Seq
}

// commit records the case as it stands, with a change's messages and audit
// entries, and returns the state recorded, as an update reports it: a
// snapshot, since another update may change the state while the projection
// is written (the projection keeps the write with the later position and
// sequence).
func (wf *caseWorkflow) commit(ctx workflow.Context, msgs []Message, audit ...AuditRecord) (CaseState, error) {
	snapshot := wf.state
	if err := record(ctx, RecordCaseInput{Case: snapshot, Messages: msgs, Audit: audit}); err != nil {
		return CaseState{}, err
	}
	return snapshot.Reported(), nil
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

// RetryRecordsFor is how long a record (the projection, a refund's status,
// a ledger entry) is retried before its workflow gives up: a week of
// PostgreSQL away is a disaster to recover from, not an outage to wait out.
// It must be set: without it the SDK ends a local activity's retries when
// one attempt's StartToCloseTimeout has passed since the first (5 s), and a
// transition a timer makes then fails the case's workflow.
const RetryRecordsFor = 7 * 24 * time.Hour

// record writes the projection as a local activity: it is idempotent, short,
// and on the hot path of every message, so it should not cost a round trip
// through the server's task queues. It retries until PostgreSQL is back, so
// the projection never silently misses an event. A local activity runs
// before its workflow task is committed; if that task is lost in a crash,
// the write is done again, differently perhaps, later in the history: the
// position tells the projection which write Temporal committed.
func record(ctx workflow.Context, in RecordCaseInput) error {
	in.Pos = ProjectionPos{Gen: in.Case.Gen, Event: int64(workflow.GetInfo(ctx).GetCurrentHistoryLength())}
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: RetryRecordsFor,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
		},
	})
	if err := workflow.ExecuteLocalActivity(ctx, ActivityRecordCase, in).Get(ctx, nil); err != nil {
		return err
	}
	countTransitions(ctx, in.Audit)
	return nil
}

// Register registers every workflow type of this package with a worker or replayer.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(CaseWorkflow, workflow.RegisterOptions{Name: CaseWorkflowName})
	r.RegisterWorkflowWithOptions(RefundWorkflow, workflow.RegisterOptions{Name: RefundWorkflowName})
	r.RegisterWorkflowWithOptions(WebhookWorkflow, workflow.RegisterOptions{Name: WebhookWorkflowName})
	r.RegisterWorkflowWithOptions(BulkWorkflow, workflow.RegisterOptions{Name: BulkWorkflowName})
}
