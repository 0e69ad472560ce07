package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Merging a duplicate case into another: the target records that it took
// the source in (a note, staff only, and the source's ID), then the source
// closes with the reason "merged" and names the target. Messages to the
// source are then answered with the target's ID; its refunds stay with it.
// Undoing a merge is a new case, not a rewrite.

// MergeInput is the argument of UpdateMergeInto (Other: the target) and
// UpdateMergeFrom (Other: the source).
type MergeInput struct {
	Actor Actor  `json:"actor"`
	Other string `json:"other"`
}

// MergeReason is the close reason of a case merged into another.
const MergeReason = "merged"

// maxMergedFrom bounds the cases merged into one.
const maxMergedFrom = 100

func (wf *caseWorkflow) validateMergeInto(ctx workflow.Context, in MergeInput) error {
	switch {
	case wf.state.MergedInto == in.Other:
		return nil // a retry
	case in.Other == "" || in.Other == wf.state.CaseID:
		return temporal.NewApplicationError("a case merges into another", ErrTypeInvalidMessage)
	case wf.state.Status == StatusClosed:
		return temporal.NewApplicationError("the case is closed", ErrTypeCaseClosed)
	case len(wf.state.MergedFrom) > 0:
		return temporal.NewApplicationError("other cases were merged into this one: merge the other way", ErrTypeWrongState)
	}
	return nil
}

// mergeInto closes the case as merged into another.
func (wf *caseWorkflow) mergeInto(ctx workflow.Context, in MergeInput) (CaseState, error) {
	if wf.state.MergedInto == in.Other {
		return wf.state.Reported(), nil
	}
	return wf.transition(ctx, change{actor: in.Actor, update: updateOf(ctx), action: AuditCaseClose, reason: MergeReason, apply: func(now time.Time) map[string]string {
		wf.state.Status, wf.state.ClosedAt, wf.state.CloseReason, wf.state.MergedInto = StatusClosed, &now, MergeReason, in.Other
		wf.clearOffer()
		wf.stopAllClocks(now, false)
		return map[string]string{"merged_into": in.Other}
	}})
}

func (wf *caseWorkflow) validateMergeFrom(ctx workflow.Context, in MergeInput) error {
	switch {
	case slices.Contains(wf.state.MergedFrom, in.Other):
		return nil // a retry
	case in.Other == "" || in.Other == wf.state.CaseID:
		return temporal.NewApplicationError("a case takes in another", ErrTypeInvalidMessage)
	case wf.state.MergedInto != "":
		return temporal.NewApplicationError("this case was merged into another", ErrTypeWrongState)
	case len(wf.state.MergedFrom) >= maxMergedFrom:
		return temporal.NewApplicationError("a case takes in at most 100 others", ErrTypeCaseFull)
	}
	return nil
}

// mergeFrom records that the case took another in: a staff note in its
// conversation where it happened, and the other's ID.
func (wf *caseWorkflow) mergeFrom(ctx workflow.Context, in MergeInput) (PostMessageResult, error) {
	if slices.Contains(wf.state.MergedFrom, in.Other) {
		return PostMessageResult{Case: wf.state.Reported(), Duplicate: true}, nil
	}
	now := workflow.Now(ctx)
	wf.state.Seq++
	wf.state.Notes++
	wf.state.UpdatedAt = now
	wf.state.MergedFrom = append(wf.state.MergedFrom, in.Other)
	note := Message{Seq: wf.state.Seq, AuthorKind: AuthorSystem, AuthorID: in.Actor.ID, Internal: true,
		Body: "Case " + in.Other + " was merged into this one.", At: now}
	snapshot, err := wf.commit(ctx, []Message{note}, AuditRecord{Seq: note.Seq, Action: AuditCaseMergedFrom, Actor: in.Actor, At: now,
		Details: map[string]string{"merged_from": in.Other, "message_seq": itoa(note.Seq)}})
	if err != nil {
		return PostMessageResult{}, err
	}
	return PostMessageResult{Case: snapshot, Message: note}, nil
}
