package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/workflows"
)

// caseIDNamespace derives a case ID from (tenant, Idempotency-Key), so that
// every retry of an opening request names the same workflow.
var caseIDNamespace = uuid.MustParse("6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21")

const (
	idempotencyHeader   = "Idempotency-Key"
	maxIdempotencyKey   = 255
	maxCustomerRefRunes = 128
	maxSubjectRunes     = 200
	maxReasonRunes      = 500
	defaultPageSize     = 20
	maxPageSize         = 100
)

// maxTimelineSteps bounds the timeline GET returns; the trail has every entry.
const maxTimelineSteps = 500

// OpenCaseRequest is the body of POST /v1/cases.
type OpenCaseRequest struct {
	CustomerRef string `json:"customer_ref"`
	Channel     string `json:"channel"`
	Subject     string `json:"subject"`
	Priority    string `json:"priority"`
	Message     string `json:"message"`
}

func (r *OpenCaseRequest) normalise() {
	r.CustomerRef = strings.TrimSpace(r.CustomerRef)
	r.Subject = strings.TrimSpace(r.Subject)
	if r.Priority == "" {
		r.Priority = "normal"
	}
}

func (r OpenCaseRequest) validate() []FieldError {
	var errs []FieldError
	switch {
	case r.CustomerRef == "":
		errs = append(errs, FieldError{"customer_ref", "is required"})
	case utf8.RuneCountInString(r.CustomerRef) > maxCustomerRefRunes:
		errs = append(errs, FieldError{"customer_ref", "must be at most 128 characters"})
	case strings.IndexFunc(r.CustomerRef, unicode.IsControl) >= 0:
		errs = append(errs, FieldError{"customer_ref", "must not contain control characters"})
	}
	if !slices.Contains(workflows.Channels, r.Channel) {
		errs = append(errs, FieldError{"channel", "must be one of " + strings.Join(workflows.Channels, ", ")})
	}
	if utf8.RuneCountInString(r.Subject) > maxSubjectRunes {
		errs = append(errs, FieldError{"subject", "must be at most 200 characters"})
	}
	if !slices.Contains(workflows.Priorities, r.Priority) {
		errs = append(errs, FieldError{"priority", "must be one of " + strings.Join(workflows.Priorities, ", ")})
	}
	if reason := workflows.ValidateMessageBody(r.Message); reason != "" {
		errs = append(errs, FieldError{"message", reason})
	}
	return errs
}

// reasonCode is the shape of the reasons that go into the audit chain
// (closing a case, erasing a customer, a legal hold): a code, lowercase words
// joined by underscores, such as customer_request. The chain is permanent and
// outlives erasure, so it holds no free text a person could fill with a
// name, an address or a diagnosis.
var reasonCode = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

const maxReasonCode = 64

// reasonCodeError says what is wrong with a reason code, or "".
func reasonCodeError(v string, required bool) string {
	switch {
	case v == "" && !required:
		return ""
	case v == "":
		return "is required: a code such as customer_request"
	case len(v) > maxReasonCode || !reasonCode.MatchString(v):
		return "must be a code of at most 64 characters, lowercase words joined by underscores (such as customer_request), not free text: the audit chain keeps it for good"
	}
	return ""
}

// hash identifies the request for idempotency: the same key must come with
// the same request.
func (r OpenCaseRequest) hash() string {
	b, _ := json.Marshal(r) // a struct of strings always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CloseCaseRequest is the body of POST /v1/cases/{id}/close.
type CloseCaseRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) openCase(c *gin.Context) error {
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	var req OpenCaseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.normalise()
	if errs := req.validate(); len(errs) > 0 {
		return validationError(errs)
	}
	if ch := principalOf(c).Channels; ch != nil && !slices.Contains(ch, req.Channel) {
		return errorf(http.StatusForbidden, "channel_forbidden", "this key opens cases in "+strings.Join(ch, ", ")+" only")
	}
	if cust := principalOf(c).Customer; cust != "" && cust != req.CustomerRef {
		return errCustomerMismatch
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}

	caseID, first := uuid.NewString(), true
	if key != "" {
		caseID = uuid.NewSHA1(caseIDNamespace, []byte(tenant+"\x00"+key)).String()
		if first, err = s.store.ClaimIdempotencyKey(ctx, tenant, key, req.hash(), caseID); err != nil {
			return err
		}
	}
	// A retry goes to Temporal like the first request (invariant 8): the
	// opening update's ID is fixed, so the workflow answers it from its own
	// committed state, whichever run it is in; never from the records, which
	// may hold what a lost workflow task wrote. Only a closed case is
	// answered from its records, which are final: once Temporal has
	// forgotten its run, an update-with-start would start it again.
	if !first {
		closed, err := s.closedForGood(ctx, tenant, caseID)
		if err != nil {
			return err
		}
		if closed {
			return s.replayOpen(c, tenant, caseID)
		}
	}

	res, err := s.startCase(ctx, workflows.CaseOpening{TenantID: tenant, CaseID: caseID, CustomerRef: req.CustomerRef,
		Channel: req.Channel, Subject: req.Subject, Priority: req.Priority}, req.Message, actorOf(c))
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) && key != "" {
		// The case has closed: its workflow is finished, and its records final.
		return s.replayOpen(c, tenant, caseID)
	}
	if err != nil {
		return err
	}
	out, err := s.exchange(ctx, tenant, caseID, res, req.Message)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !first {
		// A retry: the exchange is the first one, the case as it is now.
		status = http.StatusOK
		if out.Case, err = s.currentCase(ctx, tenant, caseID); err != nil {
			return err
		}
	}
	c.JSON(status, exchangeFor(c, out))
	return nil
}

// currentCase is the case as its workflow holds it now (committed state, by
// Query), or, once Temporal has forgotten a finished case, its final record.
func (s *Server) currentCase(ctx context.Context, tenant, caseID string) (CaseJSON, error) {
	resp, err := s.temporal.QueryWorkflow(ctx, workflows.CaseWorkflowID(tenant, caseID), "", workflows.QueryState)
	var st workflows.CaseState
	if err == nil {
		err = resp.Get(&st)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		row, err := s.store.GetCaseRow(ctx, tenant, caseID)
		return caseFromRow(row), err
	}
	return caseFromState(st), err
}

// closedForGood says the case is closed and its workflow finished (or
// forgotten by Temporal), so its records are final. A record that says
// closed while the workflow still runs was written by a lost workflow task.
func (s *Server) closedForGood(ctx context.Context, tenant, caseID string) (bool, error) {
	row, err := s.store.GetCaseRowSealed(ctx, tenant, caseID)
	var missing *store.NotFoundError
	switch {
	case errors.As(err, &missing):
		return false, nil // the first request has not recorded it yet
	case err != nil:
		return false, err
	case row.Status != workflows.StatusClosed:
		return false, nil
	}
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, row.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// replayOpen answers a retried opening request of a closed case from the
// projection: the workflow has finished, so its records are final.
func (s *Server) replayOpen(c *gin.Context, tenant, caseID string) error {
	row, msgs, err := s.store.GetCase(c.Request.Context(), tenant, caseID)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return fmt.Errorf("case %s has no messages, want the opening one", caseID)
	}
	out := ExchangeJSON{Case: caseFromRow(row), Message: messageFromRow(msgs[0])}
	if len(msgs) > 1 && msgs[1].AuthorKind != workflows.AuthorCustomer {
		reply := messageFromRow(msgs[1])
		out.Reply = &reply
	}
	c.JSON(http.StatusOK, exchangeFor(c, out))
	return nil
}

func (s *Server) closeCase(c *gin.Context) error {
	ctx := c.Request.Context()
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	var req CloseCaseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if msg := reasonCodeError(req.Reason, false); msg != "" {
		return validationError([]FieldError{{"reason", msg}})
	}
	// Closing a closed case is a retry: the workflow answers it, or, once it
	// has finished, its final records do.
	var state workflows.CaseState
	err = s.sendUpdate(ctx, caseUpdate(row, workflows.UpdateClose, workflows.UpdateClose, workflows.CloseInput{Reason: req.Reason, Actor: actorOf(c)}), &state)
	if errors.Is(err, errCaseClosed) { // finished: its final record answers
		if row, err = s.loadCase(c); err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"case": caseFor(c, caseFromRow(row))})
		return nil
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFor(c, caseFromState(state))})
	return nil
}

func (e *failingTaskError) Error() string {
	return fmt.Sprintf("workflow %s: its workflow task has failed %d times", e.workflowID, e.attempt)
}

// getCase answers with the case, a page of its conversation
// (?after=<seq>&limit=, 100 by default, at most 500; next_after names the
// next page), its timeline and its metrics.
func (s *Server) getCase(c *gin.Context) error {
	after, limit, err := messagePage(c)
	if err != nil {
		return err
	}
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	msgs, more, err := s.store.CaseMessages(c.Request.Context(), row.TenantID, row.ID, after, limit, !customerFacing(c))
	if err != nil {
		return err
	}
	stats, err := s.store.CaseMessageStats(c.Request.Context(), row.TenantID, row.ID)
	if err != nil {
		return err
	}
	if customerFacing(c) {
		out := CustomerCase{Case: caseFromRow(row).customerView(), Messages: make([]MessageJSON, 0, len(msgs))}
		for _, m := range msgs {
			out.Messages = append(out.Messages, messageFromRow(m).customerView())
		}
		if more {
			out.NextAfter = msgs[len(msgs)-1].Seq
		}
		c.JSON(http.StatusOK, out)
		return nil
	}
	// Staff reading conversation content is audited before they see it.
	if principalOf(c).Kind == "user" {
		if err := s.audit(c, auditEntry{Action: "case.read", ObjectType: "case", ObjectID: row.ID, CaseID: row.ID}); err != nil {
			return err
		}
	}
	steps, err := s.store.ListAudit(c.Request.Context(), row.TenantID, store.AuditFilter{CaseID: row.ID,
		Actions: workflows.TimelineActions, Limit: maxTimelineSteps, Open: true})
	if err != nil {
		return err
	}
	out := CaseWithMessages{Case: caseFromRow(row), Messages: make([]MessageJSON, 0, len(msgs)), Timeline: make([]TimelineStep, 0, len(steps))}
	seconds := func(at time.Time) *float64 { v := at.Sub(row.OpenedAt).Seconds(); return &v }
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageFromRow(m))
	}
	if more {
		out.NextAfter = msgs[len(msgs)-1].Seq
	}
	if stats.FirstAI != nil {
		out.Metrics.FirstResponseAI = seconds(*stats.FirstAI)
	}
	if stats.FirstAgent != nil {
		out.Metrics.FirstResponseHuman = seconds(*stats.FirstAgent)
	}
	if done := row.ResolvedAt; done != nil {
		out.Metrics.Resolution = seconds(*done)
	} else if row.ClosedAt != nil {
		out.Metrics.Resolution = seconds(*row.ClosedAt)
	}
	for _, e := range steps {
		if e.Action == workflows.AuditCaseReply && e.ActorKind != "user" {
			continue // the AI's and the system's replies are in the conversation
		}
		step := TimelineStep{At: e.OccurredAt.UTC(), Action: e.Action, ActorKind: e.ActorKind, ActorID: e.ActorID, Reason: e.Reason}
		if err := json.Unmarshal([]byte(e.Details), &step.Details); err != nil || len(step.Details) == 0 {
			step.Details = nil
		}
		out.Timeline = append(out.Timeline, step)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// listCases lists the tenant's cases, newest first: ?status=, ?customer_ref=
// (a returning customer's cases, found through the blind index), ?limit=,
// ?cursor=. A front end bound to channels lists those channels' cases; one
// acting for an asserted customer, that customer's only.
func (s *Server) listCases(c *gin.Context) error {
	f := store.ListFilter{Status: c.Query("status"), Queue: c.Query("queue"), Cursor: c.Query("cursor"), CustomerRef: c.Query("customer_ref"),
		Channels: principalOf(c).Channels}
	if cust := principalOf(c).Customer; cust != "" {
		if f.CustomerRef != "" && f.CustomerRef != cust {
			return errCustomerMismatch
		}
		f.CustomerRef = cust
	}
	errs, err := s.fieldFilters(c, &f)
	if err != nil {
		return err
	}
	if f.CustomerRef != "" && (utf8.RuneCountInString(f.CustomerRef) > maxCustomerRefRunes || strings.IndexFunc(f.CustomerRef, unicode.IsControl) >= 0) {
		errs = append(errs, FieldError{"customer_ref", "must be at most 128 characters, none of them control characters"})
	}
	if f.Status != "" && !slices.Contains(workflows.Statuses, f.Status) {
		errs = append(errs, FieldError{"status", "must be one of " + strings.Join(workflows.Statuses, ", ")})
	}
	errs = append(errs, openedBounds(c, &f)...)
	var limitErr *FieldError
	if f.Limit, limitErr = pageLimit(c, defaultPageSize, maxPageSize); limitErr != nil {
		errs = append(errs, *limitErr)
	}
	query, searching := c.GetQuery("q")
	if searching && (strings.TrimSpace(query) == "" || utf8.RuneCountInString(query) > maxSearchRunes) {
		errs = append(errs, FieldError{"q", "words to search for, at most 200 characters"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	if searching {
		p := principalOf(c)
		if ok, err := s.authz.Allowed(p.Roles, p.Tenant, "case", "search"); err != nil {
			return err
		} else if !ok {
			return errorf(http.StatusForbidden, "forbidden", "your role may not search conversations")
		}
	}
	scope, err := s.agentScope(c)
	if err != nil {
		return err
	}
	f.Agent = scope
	list := s.store.ListCases
	if searching {
		list = func(ctx context.Context, tenant string, f store.ListFilter) ([]store.Case, string, error) {
			return s.store.SearchCases(ctx, tenant, query, f)
		}
	}
	return s.respondCaseList(c, f, list)
}

// maxSearchRunes bounds a search query.
const maxSearchRunes = 200

// respondCaseList answers with one page of the caller's tenant's cases.
func (s *Server) respondCaseList(c *gin.Context, f store.ListFilter, list func(context.Context, string, store.ListFilter) ([]store.Case, string, error)) error {
	rows, next, err := list(c.Request.Context(), principalOf(c).Tenant, f)
	if errors.Is(err, store.ErrEmptySearch) {
		return validationError([]FieldError{{"q", "no word to search for: common words such as \"the\" and punctuation are not indexed"}})
	}
	if err != nil {
		return err
	}
	out := CaseList{Cases: make([]CaseJSON, 0, len(rows)), NextCursor: next}
	for _, r := range rows {
		out.Cases = append(out.Cases, caseFor(c, caseFromRow(r)))
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// loadCase reads the case named in the path from the caller's tenant and
// scope; 404 when there is none: another tenant's case, or another agent's,
// is indistinguishable from a missing one.
func (s *Server) loadCase(c *gin.Context) (store.Case, error) {
	return s.loadCaseWith(c, s.store.GetCaseRow)
}

func (s *Server) loadCaseWith(c *gin.Context, load func(ctx context.Context, tenant, id string) (store.Case, error)) (store.Case, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return store.Case{}, errCaseNotFound
	}
	row, err := load(c.Request.Context(), principalOf(c).Tenant, id)
	if err == nil {
		err = s.inScope(c, row)
	}
	return row, err
}

// startCase starts a case's workflow with its opening message, or finds it
// started (the opening update's ID is fixed, so the workflow answers a
// retry from its own committed state). A closed case's workflow is not
// started again: that is WorkflowExecutionAlreadyStarted.
func (s *Server) startCase(ctx context.Context, opening workflows.CaseOpening, body string, actor workflows.Actor) (workflows.PostMessageResult, error) {
	tenant, caseID := opening.TenantID, opening.CaseID
	// The case's workflow seals its payloads with the customer's data key,
	// so an erasure makes its history unreadable too; an erased customer's
	// case is refused here (store.ErrCustomerErased).
	if err := s.store.BindCaseKey(ctx, tenant, opening.CustomerRef, workflows.CaseWorkflowID(tenant, caseID)); err != nil {
		return workflows.PostMessageResult{}, err
	}
	// The tenant's service policy now is the case's for its whole life.
	policy, err := s.store.ServicePolicy(ctx, tenant)
	if err != nil {
		return workflows.PostMessageResult{}, err
	}
	in := workflows.CaseInput{
		CaseOpening:  opening,
		Policy:       policy,
		HistoryLimit: s.historyLimit,
	}
	startOp := s.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflows.CaseWorkflowID(tenant, caseID),
		TaskQueue:                s.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A closed case's ID is never reused: a late retry must not reopen it as a new case.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.CaseWorkflowName, in)
	handle, err := s.temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: startOp,
		UpdateOptions: client.UpdateWorkflowOptions{
			// Named although the start names it: SDK v1.50 encodes the
			// update's argument before filling it in, so without it the
			// opening message would be sealed with the deployment's payload
			// key instead of the customer's.
			WorkflowID:   workflows.CaseWorkflowID(tenant, caseID),
			UpdateID:     workflows.OpenUpdateID,
			UpdateName:   workflows.UpdatePostMessage,
			Args:         []any{workflows.PostMessageInput{Body: body, Actor: actor}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var res workflows.PostMessageResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	return res, err
}
