package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/workflows"
)

// BulkRequest is the body of POST /v1/bulk: an action (close with a reason
// code, reassign to an agent, set_fields) for the open cases of a list
// (case_ids) or a filter, at most 10,000, at rate cases a second (default
// 20, at most 100).
type BulkRequest struct {
	Action     string                     `json:"action"`
	CaseIDs    []string                   `json:"case_ids,omitempty"`
	Filter     *BulkFilter                `json:"filter,omitempty"`
	Reason     string                     `json:"reason,omitempty"`
	To         string                     `json:"to,omitempty"`
	AddTags    []string                   `json:"add_tags,omitempty"`
	RemoveTags []string                   `json:"remove_tags,omitempty"`
	Fields     map[string]json.RawMessage `json:"fields,omitempty"`
	Rate       int                        `json:"rate,omitempty"`
}

// BulkFilter selects cases as a listing does.
type BulkFilter struct {
	Status string            `json:"status,omitempty"`
	Queue  string            `json:"queue,omitempty"`
	Tags   []string          `json:"tags,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
}

// BulkBody answers a bulk action: where it stands, and a page of its cases.
type BulkBody struct {
	Bulk  store.BulkJob    `json:"bulk"`
	Cases []store.BulkItem `json:"cases,omitempty"`
}

// bulkNamespace derives a bulk action's ID from (tenant, Idempotency-Key).
var bulkNamespace = uuid.MustParse("0b9a7f1e-6c8d-4b53-9f0e-2d6a1c3e5b74")

const maxBulkRate = 100

// maxBulkBodySize admits a list of 10,000 case IDs (about 390 kB).
const maxBulkBodySize = 512 << 10

var errBulkNotFound = errorf(http.StatusNotFound, "bulk_not_found", "no such bulk action")

// startBulk records a bulk action and its selection, and starts its
// workflow; 202. A retry with its Idempotency-Key finds the same one.
func (s *Server) startBulk(c *gin.Context) error {
	var req BulkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	in := workflows.BulkInput{TenantID: p.Tenant, Actor: actorOf(c), Action: req.Action, Reason: req.Reason, To: req.To, Rate: req.Rate}
	var errs []FieldError
	if !slices.Contains(workflows.BulkActions, req.Action) {
		errs = append(errs, FieldError{"action", "one of " + strings.Join(workflows.BulkActions, ", ")})
	}
	if (req.CaseIDs == nil) == (req.Filter == nil) {
		errs = append(errs, FieldError{"case_ids", "name the cases, or a filter, not both"})
	}
	if len(req.CaseIDs) > workflows.MaxBulkCases {
		errs = append(errs, FieldError{"case_ids", "at most 10,000"})
	}
	for _, id := range req.CaseIDs {
		if !canonicalUUID(id) {
			errs = append(errs, FieldError{"case_ids", "case IDs are UUIDs"})
			break
		}
	}
	if req.Rate < 0 || req.Rate > maxBulkRate {
		errs = append(errs, FieldError{"rate", "cases a second, from 1 to 100 (0: 20)"})
	}
	switch req.Action {
	case workflows.BulkClose:
		if msg := reasonCodeError(req.Reason, true); msg != "" {
			errs = append(errs, FieldError{"reason", msg})
		}
	case workflows.BulkReassign:
		if _, err := s.store.GetAgent(c.Request.Context(), p.Tenant, req.To); errors.Is(err, store.ErrNotFound) || req.To == "" {
			errs = append(errs, FieldError{"to", "an agent of the tenant"})
		} else if err != nil {
			return err
		}
	case workflows.BulkSetFields:
		fields, ferrs, err := s.fieldChanges(c, SetFieldsRequest{AddTags: req.AddTags, RemoveTags: req.RemoveTags, Fields: req.Fields}, "")
		if err != nil {
			return err
		}
		errs, in.Fields = append(errs, ferrs...), fields
	}
	var f store.ListFilter
	if req.Filter != nil {
		f = store.ListFilter{Status: req.Filter.Status, Queue: req.Filter.Queue, Tags: req.Filter.Tags}
		if f.Status != "" && !slices.Contains(workflows.Statuses, f.Status) {
			errs = append(errs, FieldError{"filter.status", "must be one of " + strings.Join(workflows.Statuses, ", ")})
		}
		ferrs, err := s.filterFields(c, req.Filter.Fields, &f)
		if err != nil {
			return err
		}
		errs = append(errs, ferrs...)
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	in.BulkID = uuid.NewString()
	if key != "" {
		in.BulkID = uuid.NewSHA1(bulkNamespace, []byte(p.Tenant+"\x00"+key)).String()
	}
	ids, err := s.store.SelectBulkCases(c.Request.Context(), p.Tenant, f, req.CaseIDs)
	if errors.Is(err, store.ErrTooManyCases) {
		return validationError([]FieldError{{"filter", "selects more than 10,000 cases: narrow it"}})
	}
	if err != nil {
		return err
	}
	asked := req
	asked.CaseIDs = nil // the selection is the job's cases
	request, err := json.Marshal(asked)
	if err != nil {
		return err
	}
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		created, err := tx.CreateBulkJob(c.Request.Context(), store.BulkJob{TenantID: p.Tenant, ID: in.BulkID, Action: req.Action,
			Request: request, RequestedBy: p.ID, CreatedAt: time.Now().UTC()}, ids)
		if err != nil || !created {
			return err
		}
		return s.auditTx(c, tx, "bulk.start", "bulk", in.BulkID, map[string]string{"action": req.Action, "cases": strconv.Itoa(len(ids))})
	})
	if err != nil {
		return err
	}
	_, err = s.temporal.ExecuteWorkflow(c.Request.Context(), client.StartWorkflowOptions{ID: workflows.BulkWorkflowID(p.Tenant, in.BulkID),
		TaskQueue: s.taskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}, workflows.BulkWorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) { // a retry of one that has finished
		return err
	}
	j, err := s.store.BulkJob(c.Request.Context(), p.Tenant, in.BulkID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, BulkBody{Bulk: j})
	return nil
}

// filterFields checks a bulk filter's field values as a listing's.
func (s *Server) filterFields(c *gin.Context, fields map[string]string, f *store.ListFilter) ([]FieldError, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	schema, err := s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	f.Fields = map[string]string{}
	for name, value := range fields {
		v, msg := filterValue(schema, name, value)
		if msg != "" {
			errs = append(errs, FieldError{"filter.fields." + name, msg})
			continue
		}
		f.Fields[name] = v
	}
	return errs, nil
}

// getBulk answers where a bulk action stands, with a page of its cases
// (?status=failed&after=<case ID>&limit=, 100 by default, at most 1,000).
func (s *Server) getBulk(c *gin.Context) error {
	limit, limitErr := pageLimit(c, 100, 1000)
	status := c.Query("status")
	var errs []FieldError
	if limitErr != nil {
		errs = append(errs, *limitErr)
	}
	if status != "" && !slices.Contains([]string{"pending", "done", "failed", "cancelled"}, status) {
		errs = append(errs, FieldError{"status", "pending, done, failed or cancelled"})
	}
	if after := c.Query("after"); after != "" && !canonicalUUID(after) {
		errs = append(errs, FieldError{"after", "a case ID"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	j, err := s.store.BulkJob(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errBulkNotFound
	}
	if err != nil {
		return err
	}
	items, err := s.store.BulkItems(c.Request.Context(), j.TenantID, j.ID, status, c.Query("after"), limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, BulkBody{Bulk: j, Cases: items})
	return nil
}

// cancelBulk stops a running bulk action after the page it is on; the
// cases it has not reached are cancelled. 202; 409 once it has finished.
func (s *Server) cancelBulk(c *gin.Context) error {
	j, err := s.store.BulkJob(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errBulkNotFound
	}
	if err != nil {
		return err
	}
	if j.Status != "running" {
		return errorf(http.StatusConflict, "bulk_finished", "the bulk action has finished: "+j.Status)
	}
	err = s.temporal.SignalWorkflow(c.Request.Context(), workflows.BulkWorkflowID(j.TenantID, j.ID), "", workflows.SignalBulkCancel, nil)
	var gone *serviceerror.NotFound
	if errors.As(err, &gone) {
		return errorf(http.StatusConflict, "bulk_finished", "the bulk action has finished")
	}
	if err != nil {
		return err
	}
	if err := s.audit(c, auditEntry{Action: "bulk.cancel", ObjectType: "bulk", ObjectID: j.ID}); err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, BulkBody{Bulk: j})
	return nil
}
