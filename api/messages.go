package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"tandem/activities/store"
	"tandem/workflows"
)

// PostMessageRequest is the body of POST /v1/cases/{id}/messages.
type PostMessageRequest struct {
	Body string `json:"body"`
	// AttachmentIDs are uploads of this case (POST .../attachments) the
	// message carries, at most 5.
	AttachmentIDs []string `json:"attachment_ids,omitempty"`
}

// exchange turns a message update's result into the response, refusing it
// when the message the key first went with is not body (422
// idempotency_key_reused). A duplicate (a retry the workflow had taken in an
// earlier run) carries the sequences of committed messages, whose text the
// projection holds: a committed write is the last one of its sequence.
func (s *Server) exchange(ctx context.Context, tenant, caseID string, res workflows.PostMessageResult, body string) (ExchangeJSON, error) {
	if !res.Duplicate {
		if res.Message.Body != body {
			return ExchangeJSON{}, errKeyReused
		}
		return exchangeJSON(res), nil
	}
	seqs := []int64{res.Message.Seq}
	if res.Reply.Seq != 0 {
		seqs = append(seqs, res.Reply.Seq)
	}
	msgs, err := s.store.MessagesBySeq(ctx, tenant, caseID, seqs...)
	if err != nil {
		return ExchangeJSON{}, err
	}
	if len(msgs) != len(seqs) {
		return ExchangeJSON{}, fmt.Errorf("case %s: committed messages %v are missing from the projection", caseID, seqs)
	}
	if msgs[0].Body != body && !msgs[0].Erased {
		return ExchangeJSON{}, errKeyReused
	}
	out := ExchangeJSON{Case: caseFromState(res.Case), Message: messageFromRow(msgs[0])}
	if len(msgs) > 1 {
		reply := messageFromRow(msgs[1])
		out.Reply = &reply
	}
	return out, nil
}

// messageRequest reads and checks a message's body and files.
func (s *Server) messageRequest(c *gin.Context) (PostMessageRequest, error) {
	var req PostMessageRequest
	if err := decodeJSON(c, &req); err != nil {
		return req, err
	}
	if reason := workflows.ValidateMessageBody(req.Body); reason != "" {
		return req, validationError([]FieldError{{"body", reason}})
	}
	if len(req.AttachmentIDs) > s.maxFiles {
		return req, validationError([]FieldError{{"attachment_ids", fmt.Sprintf("at most %d attachments", s.maxFiles)}})
	}
	for i := range req.AttachmentIDs {
		req.AttachmentIDs[i] = strings.ToLower(req.AttachmentIDs[i])
	}
	for i, id := range req.AttachmentIDs {
		if !canonicalUUID(id) || slices.Contains(req.AttachmentIDs[i+1:], id) {
			return req, validationError([]FieldError{{"attachment_ids", "the IDs uploads were given, each once"}})
		}
	}
	return req, nil
}

// loadCaseAndBody reads the case in the path and a {"body", "attachment_ids"}
// request with a valid message body, and checks the uploads it names.
func (s *Server) loadCaseAndBody(c *gin.Context) (store.Case, string, []workflows.Attachment, error) {
	row, err := s.loadCaseForMessage(c)
	if err != nil {
		return store.Case{}, "", nil, err
	}
	req, err := s.messageRequest(c)
	if err != nil {
		return row, "", nil, err
	}
	files, err := s.attachmentsFor(c, row, req.AttachmentIDs, c.GetHeader(idempotencyHeader) != "")
	return row, req.Body, files, err
}

// loadCaseForMessage reads the case a message is for. A message needs the
// case's state, not its customer's fields: they are opened only for a
// request bound to a customer, to check it is theirs.
func (s *Server) loadCaseForMessage(c *gin.Context) (store.Case, error) {
	load := s.store.GetCaseRowSealed
	if principalOf(c).Customer != "" {
		load = s.store.GetCaseRow
	}
	return s.loadCaseWith(c, load)
}

// postMessage takes a customer's message. A service key's message reads
// nothing before the update: the workflow ID is derived from the case ID,
// and the workflow's validator refuses a case outside the key's channels or
// the asserted customer. Only when the workflow cannot take it (no such
// run, the case closed) is the case read, to answer from its records; and
// when the message carries attachments, whose uploads are checked.
func (s *Server) postMessage(c *gin.Context) error {
	if _, err := uuid.Parse(c.Param("id")); err != nil {
		return errCaseNotFound
	}
	req, err := s.messageRequest(c)
	if err != nil {
		return err
	}
	body := req.Body
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	p := principalOf(c)
	var res workflows.PostMessageResult
	if p.Kind == "service" && len(req.AttachmentIDs) == 0 {
		tenant, id := p.Tenant, c.Param("id")
		scope := &workflows.CallerScope{Channels: p.Channels, Customer: p.Customer}
		err := s.sendMessage(c, tenant, id, workflows.CaseWorkflowID(tenant, id), errNeedsRecord, body, nil, key, scope, &res)
		switch {
		case err == nil:
			return s.answerMessage(c, p.Tenant, id, res, body)
		case isNotInScope(err):
			return errCaseNotFound
		case !errors.Is(err, errNeedsRecord) && !isCaseClosed(err) && !errors.Is(err, store.ErrNotFound) &&
			!errors.Is(err, store.ErrNoPayloadKey): // no such case of the tenant's: nothing to seal its message with
			return err
		}
	}
	row, err := s.loadCaseForMessage(c)
	if err != nil {
		return err
	}
	files, err := s.attachmentsFor(c, row, req.AttachmentIDs, key != "")
	if err != nil {
		return err
	}
	err = s.sendMessage(c, row.TenantID, row.ID, row.WorkflowID, caseGone(row), body, files, key, nil, &res)
	if isCaseClosed(err) {
		// A closed case's records are final: a retry of a message it took is answered from them.
		return s.replayClosedMessage(c, row, key, body)
	}
	if err != nil {
		return err
	}
	return s.answerMessage(c, row.TenantID, row.ID, res, body)
}

// errNeedsRecord: the workflow could not take a message sent unread; the
// case's record decides the answer.
var errNeedsRecord = errors.New("the case's record decides")

// sendMessage sends a customer's message to the case's workflow, gone
// being the answer when Temporal has no run of it. Retries go to Temporal
// too: within a run it answers an update ID it has seen, and the workflow
// remembers keyed messages across runs for KeyRetention.
func (s *Server) sendMessage(c *gin.Context, tenant, caseID, workflowID string, gone error, body string, files []workflows.Attachment, key string,
	scope *workflows.CallerScope, res *workflows.PostMessageResult) error {
	updateID := uuid.NewString()
	if key != "" {
		updateID = workflows.MessageUpdateID(key)
		if err := s.keyInTime(c, tenant, caseID, updateID); err != nil {
			return err
		}
	}
	in := workflows.PostMessageInput{Body: body, Actor: actorOf(c), ClientKey: key, Attachments: files, Scope: scope}
	u := workflowUpdate{WorkflowID: workflowID, Name: workflows.UpdatePostMessage, ID: updateID, Arg: in,
		Finished: errCaseClosed, Ended: fmt.Errorf("case %s: its workflow ended without closing the case", caseID), Gone: gone}
	if gone == errNeedsRecord {
		u.Finished, u.Ended = errNeedsRecord, errNeedsRecord
	}
	return s.sendUpdate(c.Request.Context(), u, res)
}

func (s *Server) answerMessage(c *gin.Context, tenant, caseID string, res workflows.PostMessageResult, body string) error {
	out, err := s.exchange(c.Request.Context(), tenant, caseID, res, body)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, exchangeFor(c, out))
	return nil
}

func isNotInScope(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeNotInScope
}

// closedBecause is the answer to a write to a closed case: 409
// customer_erased where erasure closed it, else 409 case_closed.
func (s *Server) closedBecause(c *gin.Context, row store.Case) error {
	if row.MergedInto != nil {
		return caseMerged(*row.MergedInto)
	}
	erased, err := s.store.CaseCustomerErased(c.Request.Context(), row.TenantID, row.ID)
	if err != nil {
		return err
	}
	if erased {
		return errCustomerErased
	}
	return errCaseClosed
}

// replayClosedMessage answers a message to a closed case: the exchange a
// retry of it asks for, or 409 case_closed. While Temporal keeps the
// finished run, only a key in its final state's list of keyed messages is
// one the case took (a message row with the key may be a lost task's);
// once Temporal has forgotten it, the records are final (the consistency
// check compared them with the final state when the case closed).
func (s *Server) replayClosedMessage(c *gin.Context, row store.Case, key, body string) error {
	if key == "" {
		return s.closedBecause(c, row)
	}
	ctx := c.Request.Context()
	var (
		msg   store.Message
		reply *store.Message
		found bool
	)
	final, retained, err := s.finalState(ctx, row.WorkflowID)
	switch {
	case err != nil:
		return err
	case retained:
		i := slices.IndexFunc(final.Applied, func(a workflows.AppliedMessage) bool { return a.UpdateID == workflows.MessageUpdateID(key) })
		if i < 0 {
			return s.closedBecause(c, row)
		}
		seqs := []int64{final.Applied[i].Seq}
		if r := final.Applied[i].Reply; r != 0 {
			seqs = append(seqs, r)
		}
		msgs, err := s.store.MessagesBySeq(ctx, row.TenantID, row.ID, seqs...)
		if err != nil {
			return err
		}
		if len(msgs) != len(seqs) {
			return fmt.Errorf("case %s: committed messages %v are missing from the projection", row.ID, seqs)
		}
		msg, found = msgs[0], true
		if len(msgs) > 1 {
			reply = &msgs[1]
		}
	default:
		msg, reply, found, err = s.store.ExchangeByClientKey(ctx, row.TenantID, row.ID, key)
	}
	switch {
	case err != nil:
		return err
	case !found:
		return s.closedBecause(c, row)
	case msg.Body != body && !msg.Erased:
		return errKeyReused
	}
	if row, err = s.store.GetCaseRow(c.Request.Context(), row.TenantID, row.ID); err != nil {
		return err
	}
	out := ExchangeJSON{Case: caseFromRow(row), Message: messageFromRow(msg)}
	if reply != nil {
		r := messageFromRow(*reply)
		out.Reply = &r
	}
	c.JSON(http.StatusOK, exchangeFor(c, out))
	return nil
}

// finalState is a closed case's final state: its finished workflow's
// result (or, while it finishes its last handlers, its state by Query);
// retained is false once Temporal has forgotten the run.
func (s *Server) finalState(ctx context.Context, workflowID string) (st workflows.CaseState, retained bool, err error) {
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return st, false, nil
	case err != nil:
		return st, false, err
	case desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		// Closed, and finishing its last handlers: its state is final.
		resp, err := s.temporal.QueryWorkflow(ctx, workflowID, "", workflows.QueryState)
		if err == nil {
			err = resp.Get(&st)
		}
		return st, err == nil, err
	case desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return st, false, fmt.Errorf("workflow %s: ended without completing (%s)", workflowID, desc.GetWorkflowExecutionInfo().GetStatus())
	}
	var res workflows.CaseResult
	if err := s.temporal.GetWorkflow(ctx, workflowID, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()).Get(ctx, &res); err != nil {
		return st, false, err
	}
	return res.State, true, nil
}

// isCaseClosed says the case is closed: its workflow has finished, or refused
// an update because the case is closed.
func isCaseClosed(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.Is(err, errCaseClosed) || errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeCaseClosed
}

func messageFromRow(m store.Message) MessageJSON {
	out := MessageJSON{Seq: m.Seq, AuthorKind: m.AuthorKind, AuthorID: m.AuthorID, Body: m.Body, Erased: m.Erased,
		Placeholder: m.Placeholder, ArticleID: deref(m.ArticleID), Model: deref(m.Model), AIDisclosure: m.AIDisclosure, At: m.CreatedAt.UTC()}
	if m.ArticleVersion != nil {
		out.ArticleVersion = *m.ArticleVersion
	}
	noteMarks(&out, m.Internal, deref(m.Mentions))
	out.Attachments = attachmentsJSON(m.Files)
	return out
}

func messageFromWorkflow(m workflows.Message) MessageJSON {
	return MessageJSON{Seq: m.Seq, AuthorKind: m.AuthorKind, AuthorID: m.AuthorID, Body: m.Body,
		Placeholder: m.Placeholder, ArticleID: m.ArticleID, Model: m.Model, ArticleVersion: m.ArticleVersion, AIDisclosure: m.AIDisclosure,
		Internal: m.Internal, Mentions: m.Mentions, Attachments: attachmentsFromWorkflow(m.Attachments), At: pgTime(m.At)}
}

func exchangeJSON(res workflows.PostMessageResult) ExchangeJSON {
	out := ExchangeJSON{Case: caseFromState(res.Case), Message: messageFromWorkflow(res.Message)}
	if res.Reply.Seq != 0 {
		reply := messageFromWorkflow(res.Reply)
		out.Reply = &reply
	}
	return out
}
