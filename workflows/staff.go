package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The updates people send a case: claim, reply, request information, a
// note, release, reassign, escalate, resolve and close. Each validator refuses
// before anything is written; a keyed retry is answered, not refused.

func (wf *caseWorkflow) validateClaim(ctx workflow.Context, in ClaimInput) error {
	if wf.claimedBy(in.Actor) || wf.keyedRetry(ctx) {
		return nil // a retry: the claim answers with the case
	}
	if wf.state.Status != StatusQueued {
		return temporal.NewApplicationError("the case is not waiting in a queue", ErrTypeNotClaimable)
	}
	if wf.state.OfferedTo != "" && wf.state.OfferedTo != in.Actor.ID {
		return temporal.NewApplicationError("the case is offered to another agent", ErrTypeNotClaimable)
	}
	if in.Actor.ID == "" {
		return temporal.NewApplicationError("a claim needs an agent", ErrTypeNotClaimable)
	}
	return nil
}

// claim gives the case to the first agent whose claim runs; claims accepted
// together (validated before the first ran) find it taken and fail.
func (wf *caseWorkflow) claim(ctx workflow.Context, in ClaimInput) (CaseState, error) {
	if wf.claimedBy(in.Actor) || wf.keyedRetry(ctx) {
		return wf.state.Reported(), nil
	}
	if wf.state.Status != StatusQueued || (wf.state.OfferedTo != "" && wf.state.OfferedTo != in.Actor.ID) {
		return CaseState{}, temporal.NewApplicationError("another agent claimed the case first", ErrTypeNotClaimable)
	}
	return wf.transition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseClaim, apply: func(time.Time) map[string]string {
		wf.state.Status, wf.state.Assignee = StatusAssigned, in.Actor.ID
		wf.clearOffer()
		wf.state.Passed, wf.state.RoutePending = nil, false
		return map[string]string{"queue": wf.state.Queue}
	}})
}

// claimedBy says the agent holds the case by a claim of theirs that has not moved on.
func (wf *caseWorkflow) claimedBy(actor Actor) bool {
	return actor.ID != "" && wf.state.Status == StatusAssigned && wf.state.Assignee == actor.ID
}

func (wf *caseWorkflow) close(ctx workflow.Context, in CloseInput) (CaseState, error) {
	return wf.closeCase(ctx, in.Actor, in.Reason)
}

func (wf *caseWorkflow) closeCase(ctx workflow.Context, actor Actor, reason string) (CaseState, error) {
	if wf.state.Status == StatusClosed {
		return wf.state.Reported(), nil // closing twice is a retry, not an error
	}
	return wf.transition(ctx, change{actor: actor, action: AuditCaseClose, reason: reason, apply: func(now time.Time) map[string]string {
		wf.state.Status = StatusClosed
		wf.state.ClosedAt = &now
		wf.clearOffer()
		wf.stopAllClocks(now, false)
		wf.state.CloseReason = reason
		return nil
	}})
}

func (wf *caseWorkflow) validateOwner(actor Actor) error {
	if !slices.Contains(WithPerson, wf.state.Status) {
		return temporal.NewApplicationError("the case is not with a person", ErrTypeWrongState)
	}
	if actor.ID == "" {
		return temporal.NewApplicationError("an action needs a person", ErrTypeWrongState)
	}
	return nil
}

// validateOwnerAction validates an action only the case's owner takes; a
// retry of one the case took is answered, not refused.
func (wf *caseWorkflow) validateOwnerAction(ctx workflow.Context, actor Actor) error {
	if wf.keyedRetry(ctx) {
		return nil
	}
	return wf.validateOwner(actor)
}

func (wf *caseWorkflow) validateAgentMessage(ctx workflow.Context, in AgentMessageInput) error {
	if _, ok := wf.applied(workflow.GetCurrentUpdateInfo(ctx).ID); ok {
		return nil // a retry from an earlier run: answered, not applied again
	}
	if err := wf.validateOwner(in.Actor); err != nil {
		return err
	}
	if wf.state.Messages >= MaxMessagesPerCase {
		return temporal.NewApplicationError("a case holds at most 5000 messages; open another case", ErrTypeCaseFull)
	}
	if reason := ValidateMessageBody(in.Body); reason != "" {
		return temporal.NewApplicationError(reason, ErrTypeInvalidMessage)
	}
	return validateAttachments(in.Attachments)
}

func (wf *caseWorkflow) validateResolve(ctx workflow.Context, in ResolveInput) error {
	if wf.keyedRetry(ctx) {
		return nil
	}
	if err := wf.validateOwner(in.Actor); err != nil {
		return err
	}
	if !slices.Contains(ResolutionCodes, in.Code) {
		return temporal.NewApplicationError("unknown resolution code", ErrTypeInvalidMessage)
	}
	return requireFields(wf.state.Fields, in.Required)
}

// requireFields refuses a resolution while a required field is unset.
func requireFields(fields []FieldValue, required []string) error {
	var missing []string
	for _, name := range required {
		if !slices.ContainsFunc(fields, func(f FieldValue) bool { return f.Name == name }) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return temporal.NewApplicationError("set the required fields first: "+strings.Join(missing, ", "), ErrTypeFieldsRequired)
	}
	return nil
}

// agentMessage records a person's message to the customer and moves the case
// to status, auditing it as action.
func (wf *caseWorkflow) agentMessage(ctx workflow.Context, in AgentMessageInput, status, action string) (PostMessageResult, error) {
	updateID := workflow.GetCurrentUpdateInfo(ctx).ID
	if prior, ok := wf.applied(updateID); ok && workflow.GetVersion(ctx, "applied-messages", workflow.DefaultVersion, 1) == 1 {
		return PostMessageResult{Case: wf.state.Reported(), Message: Message{Seq: prior.Seq}, Duplicate: true}, nil
	}
	if err := wf.validateOwner(in.Actor); err != nil { // re-checked: the case may have moved since validation
		return PostMessageResult{}, err
	}
	now := workflow.Now(ctx)
	msg := wf.appendMessage(now, Message{AuthorKind: AuthorAgent, AuthorID: in.Actor.ID, Body: in.Body, ClientKey: in.ClientKey,
		Attachments: in.Attachments})
	if in.ClientKey != "" {
		wf.remember(now, AppliedMessage{UpdateID: updateID, Seq: msg.Seq})
	}
	wf.state.Status = status
	wf.stopClock(ClockFirstResponse, now, true)
	wf.stopClock(ClockNextResponse, now, true)
	if status == StatusWaiting {
		wf.pauseClocks(now)
	}
	snapshot, err := wf.commit(ctx, []Message{msg}, AuditRecord{Seq: msg.Seq, Action: action, Actor: in.Actor, At: now,
		Details: map[string]string{"message_seq": itoa(msg.Seq)}})
	if err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: msg}, nil
}

func (wf *caseWorkflow) reply(ctx workflow.Context, in AgentMessageInput) (PostMessageResult, error) {
	return wf.agentMessage(ctx, in, StatusInProgress, AuditCaseReply)
}

func (wf *caseWorkflow) requestInfo(ctx workflow.Context, in AgentMessageInput) (PostMessageResult, error) {
	return wf.agentMessage(ctx, in, StatusWaiting, AuditCaseRequestInfo)
}

// release puts the case back in its queue for another agent.
func (wf *caseWorkflow) release(ctx workflow.Context, in ActorInput) (CaseState, error) {
	return wf.ownerTransition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseRelease, apply: func(time.Time) map[string]string {
		queue := wf.state.Queue
		if queue == "" {
			queue = DefaultQueue
		}
		wf.pass(wf.state.Assignee) // routing offers it to someone else
		wf.enqueue(queue)
		return nil
	}})
}

func (wf *caseWorkflow) validateReassign(ctx workflow.Context, in ReassignInput) error {
	if wf.keyedRetry(ctx) {
		return nil
	}
	if wf.state.Status != StatusQueued && !slices.Contains(WithPerson, wf.state.Status) {
		return temporal.NewApplicationError("only a case waiting for or with a person can be reassigned", ErrTypeWrongState)
	}
	if in.To == "" || in.Actor.ID == "" {
		return temporal.NewApplicationError("a reassignment needs who and to whom", ErrTypeWrongState)
	}
	return nil
}

// reassign gives the case to another agent, from a queue or from its owner.
func (wf *caseWorkflow) reassign(ctx workflow.Context, in ReassignInput) (CaseState, error) {
	if wf.keyedRetry(ctx) {
		return wf.state.Reported(), nil
	}
	if err := wf.validateReassign(ctx, in); err != nil {
		return CaseState{}, err
	}
	return wf.transition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseReassign, apply: func(time.Time) map[string]string {
		from := wf.state.Assignee
		if wf.state.Status == StatusQueued {
			wf.state.Status = StatusAssigned
		}
		wf.state.Assignee = in.To
		wf.clearOffer()
		wf.state.Passed, wf.state.RoutePending = nil, false
		return map[string]string{"from": from, "to": in.To}
	}})
}

// escalate sends the case from its owner to the supervisors' queue.
func (wf *caseWorkflow) escalate(ctx workflow.Context, in EscalateInput) (CaseState, error) {
	return wf.ownerTransition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseEscalate, reason: ReasonAgentEscalated, apply: func(time.Time) map[string]string {
		wf.enqueue(SupervisorQueue)
		wf.state.Escalation = ReasonAgentEscalated
		return nil
	}})
}

func (wf *caseWorkflow) resolve(ctx workflow.Context, in ResolveInput) (CaseState, error) {
	return wf.ownerTransition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseResolve, reason: in.Code, apply: func(now time.Time) map[string]string {
		wf.state.Status, wf.state.Resolution, wf.state.ResolvedAt = StatusResolved, in.Code, &now
		wf.stopAllClocks(now, true)
		return nil
	}})
}

// validateNote lets any person of the staff note on a case the API let
// them see (a colleague leaves the owner a note); front ends and the AI
// do not.
func (wf *caseWorkflow) validateNote(ctx workflow.Context, in NoteInput) error {
	if _, ok := wf.applied(workflow.GetCurrentUpdateInfo(ctx).ID); ok {
		return nil // a retry from an earlier run: answered, not applied again
	}
	if in.Actor.Kind != "user" {
		return temporal.NewApplicationError("only people of the staff write notes", ErrTypeWrongState)
	}
	if wf.state.Notes >= MaxNotesPerCase {
		return temporal.NewApplicationError("a case holds at most 1000 notes", ErrTypeCaseFull)
	}
	if len(in.Mentions) > MaxMentions {
		return temporal.NewApplicationError("a note mentions at most 20 agents", ErrTypeInvalidMessage)
	}
	if reason := ValidateMessageBody(in.Body); reason != "" {
		return temporal.NewApplicationError(reason, ErrTypeInvalidMessage)
	}
	return validateAttachments(in.Attachments)
}

// addNote records a staff note. It takes the next sequence of the
// conversation, so the staff read it in its place, but changes nothing of
// the case's status or clocks.
func (wf *caseWorkflow) addNote(ctx workflow.Context, in NoteInput) (PostMessageResult, error) {
	updateID := workflow.GetCurrentUpdateInfo(ctx).ID
	if prior, ok := wf.applied(updateID); ok {
		return PostMessageResult{Case: wf.state.Reported(), Message: Message{Seq: prior.Seq, Internal: true}, Duplicate: true}, nil
	}
	now := workflow.Now(ctx)
	wf.state.Seq++
	wf.state.Notes++
	wf.state.UpdatedAt = now
	note := Message{Seq: wf.state.Seq, AuthorKind: AuthorAgent, AuthorID: in.Actor.ID, Body: in.Body, ClientKey: in.ClientKey,
		Internal: true, Mentions: in.Mentions, Attachments: in.Attachments, At: now}
	if in.ClientKey != "" {
		wf.remember(now, AppliedMessage{UpdateID: updateID, Seq: note.Seq})
	}
	if wf.in.Policy.AI.NotesInContext {
		wf.state.AI.Notes = lastN(append(wf.state.AI.Notes, in.Body), aiRecentNotes)
	}
	details := map[string]string{"message_seq": itoa(note.Seq)}
	if len(in.Mentions) > 0 {
		details["mentions"] = strings.Join(in.Mentions, ",")
	}
	snapshot, err := wf.commit(ctx, []Message{note}, AuditRecord{Seq: note.Seq, Action: AuditCaseNote, Actor: in.Actor, At: now, Details: details})
	if err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: note}, nil
}

// validateSetFields lets people of the staff tag a case and set its fields
// (the API has checked the schema and who may set what) while the case is
// open, within the case's limits.
func (wf *caseWorkflow) validateSetFields(ctx workflow.Context, in SetFieldsInput) error {
	if wf.keyedRetry(ctx) {
		return nil
	}
	if in.Actor.Kind != "user" {
		return temporal.NewApplicationError("only people of the staff tag cases and set their fields", ErrTypeWrongState)
	}
	tags, fields := wf.withFields(in)
	if len(tags) > MaxTagsPerCase {
		return temporal.NewApplicationError("a case has at most 20 tags", ErrTypeInvalidMessage)
	}
	if len(fields) > MaxFieldsPerCase {
		return temporal.NewApplicationError("a case has at most 50 fields", ErrTypeInvalidMessage)
	}
	return nil
}

// withFields is the case's tags and fields with the input applied, sorted.
func (wf *caseWorkflow) withFields(in SetFieldsInput) ([]string, []FieldValue) {
	tags := slices.Clone(wf.state.Tags)
	for _, t := range in.AddTags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	tags = slices.DeleteFunc(tags, func(t string) bool { return slices.Contains(in.RemoveTags, t) })
	slices.Sort(tags)
	fields := slices.DeleteFunc(slices.Clone(wf.state.Fields), func(f FieldValue) bool {
		return slices.Contains(in.Clear, f.Name) || slices.ContainsFunc(in.Set, func(s FieldValue) bool { return s.Name == f.Name })
	})
	fields = append(fields, in.Set...)
	slices.SortFunc(fields, func(a, b FieldValue) int { return strings.Compare(a.Name, b.Name) })
	return tags, fields
}

// setFields tags the case and sets its fields, and applies the pinned
// policy's rules to them; a change that changes nothing records nothing. The audit entry names what changed; the values
// of sealed fields are personal details, sealed on the trail.
func (wf *caseWorkflow) setFields(ctx workflow.Context, in SetFieldsInput) (CaseState, error) {
	if wf.keyedRetry(ctx) {
		return wf.state.Reported(), nil
	}
	tags, fields := wf.withFields(in)
	if slices.Equal(tags, wf.state.Tags) && slices.Equal(fields, wf.state.Fields) {
		return wf.state.Reported(), nil
	}
	return wf.transition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseFields, apply: func(time.Time) map[string]string {
		var set []string
		for _, f := range in.Set {
			set = append(set, f.Name+"="+f.Value)
		}
		wf.state.Tags, wf.state.Fields = tags, fields
		details := map[string]string{"tags": strings.Join(tags, ",")}
		if len(set) > 0 {
			details["field_values"] = strings.Join(set, ";")
		}
		if len(in.Clear) > 0 {
			details["cleared"] = strings.Join(in.Clear, ",")
		}
		wf.applyRules(details)
		return details
	}})
}

// validateApplyMacro checks a macro as the owner's reply, field change and
// status change would each be checked.
func (wf *caseWorkflow) validateApplyMacro(ctx workflow.Context, in ApplyMacroInput) error {
	if _, ok := wf.applied(updateOf(ctx)); ok {
		return nil // a retry: answered, not applied again
	}
	if err := wf.validateOwner(in.Actor); err != nil {
		return err
	}
	if !slices.Contains(MacroThens, in.Then) {
		return temporal.NewApplicationError("a macro replies, asks for information or resolves", ErrTypeInvalidMessage)
	}
	if in.Body != "" {
		if wf.state.Messages >= MaxMessagesPerCase {
			return temporal.NewApplicationError("a case holds at most 5000 messages; open another case", ErrTypeCaseFull)
		}
		if reason := ValidateMessageBody(in.Body); reason != "" {
			return temporal.NewApplicationError(reason, ErrTypeInvalidMessage)
		}
	} else if in.Then != MacroResolve {
		return temporal.NewApplicationError("a macro that replies or asks needs a message", ErrTypeInvalidMessage)
	}
	in.Fields.Actor = in.Actor
	if err := wf.validateSetFields(ctx, in.Fields); err != nil {
		return err
	}
	if in.Then == MacroResolve {
		if !slices.Contains(ResolutionCodes, in.Code) {
			return temporal.NewApplicationError("unknown resolution code", ErrTypeInvalidMessage)
		}
		_, fields := wf.withFields(in.Fields)
		return requireFields(fields, in.Required)
	}
	return nil
}

// applyMacro does what a macro says as one step: its reply (a message, as
// the owner's), its tags and fields (and the rules on them), then its
// status; one audit entry lists it all.
func (wf *caseWorkflow) applyMacro(ctx workflow.Context, in ApplyMacroInput) (PostMessageResult, error) {
	updateID := updateOf(ctx)
	if prior, ok := wf.applied(updateID); ok {
		return PostMessageResult{Case: wf.state.Reported(), Message: Message{Seq: prior.Seq}, Duplicate: true}, nil
	}
	if err := wf.validateOwner(in.Actor); err != nil { // re-checked: the case may have moved since validation
		return PostMessageResult{}, err
	}
	now := workflow.Now(ctx)
	details := map[string]string{"macro_id": in.MacroID, "then": in.Then}
	var msgs []Message
	var msg Message
	if in.Body != "" {
		msg = wf.appendMessage(now, Message{AuthorKind: AuthorAgent, AuthorID: in.Actor.ID, Body: in.Body, ClientKey: in.ClientKey})
		msgs = append(msgs, msg)
		details["message_seq"] = itoa(msg.Seq)
		wf.stopClock(ClockFirstResponse, now, true)
		wf.stopClock(ClockNextResponse, now, true)
	}
	tags, fields := wf.withFields(in.Fields)
	if !slices.Equal(tags, wf.state.Tags) || !slices.Equal(fields, wf.state.Fields) {
		var set []string
		for _, f := range in.Fields.Set {
			set = append(set, f.Name+"="+f.Value)
		}
		wf.state.Tags, wf.state.Fields = tags, fields
		details["tags"] = strings.Join(tags, ",")
		if len(set) > 0 {
			details["field_values"] = strings.Join(set, ";")
		}
		wf.applyRules(details)
	}
	switch in.Then {
	case MacroReply:
		wf.state.Status = StatusInProgress
	case MacroRequestInfo:
		wf.state.Status = StatusWaiting
		wf.pauseClocks(now)
	case MacroResolve:
		wf.state.Status, wf.state.Resolution, wf.state.ResolvedAt = StatusResolved, in.Code, &now
		wf.stopAllClocks(now, true)
	}
	seq := msg.Seq
	if seq == 0 {
		seq = wf.step(now)
	}
	if in.ClientKey != "" {
		wf.remember(now, AppliedMessage{UpdateID: updateID, Seq: seq})
	}
	snapshot, err := wf.commit(ctx, msgs, AuditRecord{Seq: seq, Action: AuditCaseMacro, Actor: in.Actor, Reason: in.Code, At: now, Details: details})
	if err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: msg}, nil
}
