package api

import (
	"errors"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tandem/activities/store"
	"tandem/workflows"
)

// RefundRequest is the body of POST /v1/cases/{id}/refunds.
type RefundRequest struct {
	OrderRef   string `json:"order_ref"`
	Amount     string `json:"amount"`   // decimal, e.g. "12.50"; never a JSON number, so never a float
	Currency   string `json:"currency"` // ISO 4217, e.g. "EUR"
	ReasonCode string `json:"reason_code"`
	Kind       string `json:"kind"` // refund (default), goodwill_credit, coupon, fee_waiver, shipping_refund
}

// RefundDecisionRequest is the body of POST /v1/refunds/{id}/decide.
type RefundDecisionRequest struct {
	Approve *bool  `json:"approve"`
	Reason  string `json:"reason"`
}

var (
	refundKinds    = []string{"refund", "goodwill_credit", "coupon", "fee_waiver", "shipping_refund"}
	amountPattern  = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)
	currencyCode   = regexp.MustCompile(`^[A-Z]{3}$`)
	refundIDSpace  = uuid.MustParse("1d7e7c1a-6a52-4d39-9d0a-0c5c9f4a6e10")
	errNoRefund    = errorf(http.StatusNotFound, "refund_not_found", "no such refund")
	errFourEyes    = errorf(http.StatusForbidden, "four_eyes", "the person who requested a refund may not decide it")
	errNotDecision = errorf(http.StatusConflict, "not_awaiting_decision", "the refund is not waiting for a decision")
)

func (r *RefundRequest) validate() []FieldError {
	r.OrderRef, r.ReasonCode = strings.TrimSpace(r.OrderRef), strings.TrimSpace(r.ReasonCode)
	if r.Kind == "" {
		r.Kind = "refund"
	}
	var errs []FieldError
	if r.OrderRef == "" || len(r.OrderRef) > 64 {
		errs = append(errs, FieldError{"order_ref", "is required, at most 64 characters"})
	}
	if !amountPattern.MatchString(r.Amount) || strings.Trim(r.Amount, "0.") == "" {
		errs = append(errs, FieldError{"amount", `a positive decimal string with at most 4 decimals, e.g. "12.50"`})
	}
	if !currencyCode.MatchString(r.Currency) {
		errs = append(errs, FieldError{"currency", "an ISO 4217 code such as EUR"})
	}
	if !kbSlug.MatchString(r.ReasonCode) {
		errs = append(errs, FieldError{"reason_code", "a lower-case code such as damaged or late_delivery"})
	}
	if !slices.Contains(refundKinds, r.Kind) {
		errs = append(errs, FieldError{"kind", "one of " + strings.Join(refundKinds, ", ")})
	}
	return errs
}

// requestRefund starts a refund's saga for an order of the case's customer,
// under the case's pinned policy, and answers 202 with where it stands. With
// an Idempotency-Key the refund's ID derives from it, so a retry names the
// same saga and never asks twice.
func (s *Server) requestRefund(c *gin.Context) {
	ctx := c.Request.Context()
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	var req RefundRequest
	if err := decodeJSON(c, &req); err != nil {
		respondError(c, s.log, err)
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		respondError(c, s.log, validationError(errs))
		return
	}
	key, err := idempotencyKey(c)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	if row.Status == workflows.StatusClosed {
		respondError(c, s.log, errCaseClosed)
		return
	}
	id := uuid.NewString()
	if key != "" {
		id = uuid.NewSHA1(refundIDSpace, []byte(row.TenantID+"\x00"+row.ID+"\x00"+key)).String()
	}
	q, err := s.temporal.QueryWorkflow(ctx, row.WorkflowID, "", workflows.QueryPolicy)
	var policy workflows.PinnedPolicy
	if err == nil {
		err = q.Get(&policy)
	}
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	in := workflows.RefundInput{TenantID: row.TenantID, CaseID: row.ID, RefundID: id, OrderRef: req.OrderRef, Kind: req.Kind,
		Amount: req.Amount, Currency: req.Currency, ReasonCode: req.ReasonCode, RequestedBy: actorOf(c), Policy: policy.Refunds}
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RefundWorkflowID(row.TenantID, id), TaskQueue: s.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.RefundWorkflowName, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &already) {
		respondError(c, s.log, err)
		return
	}
	st, err := s.refundState(c, row.TenantID, id)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"refund": st})
}

// refundState asks the saga where a refund stands; once Temporal has
// forgotten a finished saga, the record says it.
func (s *Server) refundState(c *gin.Context, tenantID, id string) (workflows.RefundState, error) {
	var st workflows.RefundState
	if _, err := uuid.Parse(id); err != nil {
		return st, errNoRefund
	}
	q, err := s.temporal.QueryWorkflow(c.Request.Context(), workflows.RefundWorkflowID(tenantID, id), "", workflows.QueryRefund)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		r, err := s.store.GetRefund(c.Request.Context(), tenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return st, errNoRefund
		}
		return workflows.RefundState{RefundInput: workflows.RefundInput{TenantID: r.TenantID, CaseID: r.CaseID, RefundID: r.ID,
			OrderRef: r.OrderRef, Kind: r.Kind, Amount: r.Amount, Currency: r.Currency, ReasonCode: r.ReasonCode,
			RequestedBy: workflows.Actor{ID: r.RequestedBy}}, Status: r.Status}, err
	}
	if err == nil {
		err = q.Get(&st)
	}
	return st, err
}

// loadRefund reads a refund of the caller's tenant whose case the caller may see.
func (s *Server) loadRefund(c *gin.Context) (workflows.RefundState, bool) {
	st, err := s.refundState(c, principalOf(c).Tenant, c.Param("id"))
	if err == nil {
		var row store.Case
		if row, err = s.store.GetCaseRow(c.Request.Context(), st.TenantID, st.CaseID); err == nil {
			err = s.inScope(c, row)
		}
		if errors.Is(err, store.ErrNotFound) || err == errCaseNotFound {
			err = errNoRefund
		}
	}
	if err != nil {
		respondError(c, s.log, err)
		return st, false
	}
	return st, true
}

func (s *Server) getRefund(c *gin.Context) {
	if st, ok := s.loadRefund(c); ok {
		c.JSON(http.StatusOK, gin.H{"refund": st})
	}
}

// caseRefunds lists a case's refunds as recorded (requests a rule refused
// before recording are on the case's audit trail).
func (s *Server) caseRefunds(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	refunds, err := s.store.CaseRefunds(c.Request.Context(), row.TenantID, row.ID)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"refunds": refunds})
}

// decideRefund approves or rejects a refund waiting for a person: never the
// person who requested it, and with a step-up token where the case's policy
// asks for one.
func (s *Server) decideRefund(c *gin.Context) {
	st, ok := s.loadRefund(c)
	if !ok {
		return
	}
	var req RefundDecisionRequest
	if err := decodeJSON(c, &req); err != nil {
		respondError(c, s.log, err)
		return
	}
	if req.Approve == nil || len(req.Reason) > maxReasonRunes {
		respondError(c, s.log, validationError([]FieldError{{"approve", "is required: true or false (reason at most 500 characters)"}}))
		return
	}
	if st.Policy.StepUpForApproval && !principalOf(c).StepUp {
		s.requireStepUp(c)
		return
	}
	if *req.Approve && !withinApprovalLimit(principalOf(c).Roles, st.Policy.ApprovalLimits, st.Amount) {
		respondError(c, s.log, errorf(http.StatusForbidden, "approval_limit", "the amount is above what your role may approve; ask someone with a higher limit"))
		return
	}
	handle, err := s.temporal.UpdateWorkflow(c.Request.Context(), client.UpdateWorkflowOptions{
		WorkflowID: workflows.RefundWorkflowID(st.TenantID, st.RefundID), UpdateName: workflows.UpdateRefundDecision,
		// One update ID per person: their retry is the same decision; another
		// person's is a new one, which the saga refuses once it has decided.
		UpdateID: "decide:" + principalOf(c).ID, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.RefundDecisionInput{Actor: actorOf(c), Approve: *req.Approve, Reason: req.Reason}},
	})
	var out workflows.RefundState
	if err == nil {
		err = handle.Get(c.Request.Context(), &out)
	}
	var appErr *temporal.ApplicationError
	var finished *serviceerror.NotFound
	switch {
	case errors.As(err, &finished): // the saga has run its course
		err = errNotDecision
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeFourEyes:
		err = errFourEyes
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeWrongState:
		err = errNotDecision
	}
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"refund": out})
}

// withinApprovalLimit says whether any of the roles may approve the amount
// under the pinned limits (none set: any approver may). Rejecting needs no
// limit: saying no never moves money.
func withinApprovalLimit(roles []string, limits map[string]string, amount string) bool {
	if len(limits) == 0 {
		return true
	}
	want, ok := new(big.Rat).SetString(amount)
	if !ok {
		return false
	}
	for _, r := range roles {
		if l, ok := new(big.Rat).SetString(limits[r]); ok && limits[r] != "" && want.Cmp(l) <= 0 {
			return true
		}
	}
	return false
}
