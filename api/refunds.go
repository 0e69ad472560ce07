package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/policies"
	"tandem/policies/service"
	"tandem/workflows"
)

// RefundRequest is the body of POST /v1/cases/{id}/refunds.
type RefundRequest struct {
	OrderRef   string                 `json:"order_ref"`
	Amount     string                 `json:"amount"`   // decimal, e.g. "12.50"; never a JSON number, so never a float
	Currency   string                 `json:"currency"` // ISO 4217, e.g. "EUR"
	ReasonCode string                 `json:"reason_code"`
	Kind       string                 `json:"kind"`  // refund (default), goodwill_credit, coupon, fee_waiver, shipping_refund
	Items      []workflows.RefundItem `json:"items"` // the order's lines it is for, at most 50
	// Evidence: references, at most 10: the ID of a file of the case
	// (an upload, or one a message carries; a front end's own or the
	// customer's view's), or any other reference (a URL, a courier's number).
	Evidence []string `json:"evidence"`
}

// RefundDecisionRequest is the body of POST /v1/refunds/{id}/decide.
type RefundDecisionRequest struct {
	Approve *bool  `json:"approve"`
	Reason  string `json:"reason"`
}

// RefundAppealRequest is the body of POST /v1/refunds/{id}/appeal.
type RefundAppealRequest struct {
	Reason string `json:"reason"`
}

const (
	maxRefundItems    = 50
	maxRefundEvidence = 10
	maxEvidenceRunes  = 500
)

var (
	amountPattern = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)
	skuPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)
	refundIDSpace = uuid.MustParse("1d7e7c1a-6a52-4d39-9d0a-0c5c9f4a6e10")
	errNoRefund   = errorf(http.StatusNotFound, "refund_not_found", "no such refund")
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
	if !service.KnownCurrency(r.Currency) {
		errs = append(errs, FieldError{"currency", "a known ISO 4217 code such as EUR"})
	} else if _, frac, _ := strings.Cut(r.Amount, "."); len(frac) > service.MinorUnits(r.Currency) {
		errs = append(errs, FieldError{"amount", fmt.Sprintf("%s amounts have at most %d decimals", r.Currency, service.MinorUnits(r.Currency))})
	}
	if !kbSlug.MatchString(r.ReasonCode) {
		errs = append(errs, FieldError{"reason_code", "a lower-case code such as damaged or late_delivery"})
	}
	if !slices.Contains(workflows.RefundKinds, r.Kind) {
		errs = append(errs, FieldError{"kind", "one of " + strings.Join(workflows.RefundKinds, ", ")})
	}
	if len(r.Items) > maxRefundItems {
		errs = append(errs, FieldError{"items", "at most 50 lines"})
	}
	for _, it := range r.Items {
		if !skuPattern.MatchString(it.SKU) || it.Quantity < 1 || it.Quantity > 10000 {
			errs = append(errs, FieldError{"items", "each line has a sku (letters, digits, ._:/-, at most 64) and a quantity from 1 to 10000"})
			break
		}
	}
	if len(r.Evidence) > maxRefundEvidence {
		errs = append(errs, FieldError{"evidence", "at most 10 references"})
	}
	for _, e := range r.Evidence {
		if strings.TrimSpace(e) == "" || utf8.RuneCountInString(e) > maxEvidenceRunes || strings.IndexFunc(e, unicode.IsControl) >= 0 {
			errs = append(errs, FieldError{"evidence", "each reference is 1 to 500 characters without control characters"})
			break
		}
	}
	return errs
}

// requestRefund asks the case to start a refund's saga, as its child, for
// an order of the case's customer under the case's pinned policy, and
// answers 202 with where the refund stands. With an Idempotency-Key the
// refund's ID derives from it, so a retry names the same saga and never
// asks twice.
func (s *Server) requestRefund(c *gin.Context) error {
	ctx := c.Request.Context()
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	var req RefundRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if errs := req.validate(); len(errs) > 0 {
		return validationError(errs)
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	if row.Status == workflows.StatusClosed {
		return errCaseClosed
	}
	if err := s.checkEvidence(c, row, req.Evidence); err != nil {
		return err
	}
	if customerFacing(c) && !workflows.PaysOut(req.Kind) {
		return errorf(http.StatusForbidden, "compensation_staff_only", "a front end asks for refunds; compensations are the staff's to offer")
	}
	id := uuid.NewString()
	if key != "" {
		id = keyedRefundID(row.TenantID, row.ID, key)
		if err := s.keyInTime(c, row.TenantID, row.ID, "refund:"+id); err != nil {
			return err
		}
	}
	in := workflows.RequestRefundInput{Actor: actorOf(c), Via: principalOf(c).CreatedBy, RefundID: id, OrderRef: req.OrderRef, Kind: req.Kind, Amount: req.Amount,
		Currency: req.Currency, ReasonCode: req.ReasonCode, Items: req.Items, Evidence: req.Evidence}
	// The saga's payloads are the customer's, like the case's.
	if err := s.store.BindChildKey(ctx, workflows.CaseWorkflowID(row.TenantID, row.ID), workflows.RefundWorkflowID(row.TenantID, id)); err != nil {
		return err
	}
	var started workflows.RequestRefundResult
	if err := s.sendUpdate(ctx, caseUpdate(row, workflows.UpdateRequestRefund, "refund:"+id, in), &started); err != nil {
		return err
	}
	st, err := s.refundState(c, row.TenantID, id)
	if err == nil && !sameRefund(st, req) { // the key named another request first
		err = store.ErrIdempotencyMismatch
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"refund": s.refundView(c, st)})
	return nil
}

// refundState asks the saga where a refund stands; once Temporal has
// forgotten a finished saga, or the saga cannot answer, the record says it.
func (s *Server) refundState(c *gin.Context, tenantID, id string) (workflows.RefundState, error) {
	var st workflows.RefundState
	if _, err := uuid.Parse(id); err != nil {
		return st, errNoRefund
	}
	q, err := s.temporal.QueryWorkflow(c.Request.Context(), workflows.RefundWorkflowID(tenantID, id), "", workflows.QueryRefund)
	var notFound *serviceerror.NotFound
	var failed *serviceerror.QueryFailed
	// A saga that cannot answer (its customer erased: its payloads no
	// longer open, until the erasure's deletion of the run completes) is
	// told by its record too.
	if errors.As(err, &notFound) || errors.As(err, &failed) {
		r, err := s.store.GetRefund(c.Request.Context(), tenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return st, errNoRefund
		}
		return recordedRefund(r), err
	}
	if err == nil {
		err = q.Get(&st)
	}
	return st, err
}

// recordedRefund is a refund as its record tells it.
func recordedRefund(r store.Refund) workflows.RefundState {
	st := workflows.RefundState{RefundInput: workflows.RefundInput{TenantID: r.TenantID, CaseID: r.CaseID, RefundID: r.ID,
		OrderRef: r.OrderRef, Kind: r.Kind, Amount: r.Amount, Currency: r.Currency, ReasonCode: r.ReasonCode,
		RequestedBy: workflows.Actor{ID: r.RequestedBy}}, Status: r.Status, Rule: r.Rule, AutoRejected: r.AutoRejected,
		Appealable: r.Appealable, Overturned: r.Overturned, EscalatedAt: r.EscalatedAt, DecidedBy: r.DecidedBy, PaymentRef: r.PaymentRef}
	_ = json.Unmarshal(r.Items, &st.Items)       // written by RequestRefund from these types
	_ = json.Unmarshal(r.Evidence, &st.Evidence) // likewise
	if r.AppealedAt != nil {
		st.Appeal = &workflows.RefundAppealInput{Actor: workflows.Actor{ID: r.AppealedBy}, At: *r.AppealedAt}
	}
	return st
}

// loadRefund reads a refund of the caller's tenant whose case the caller may see.
func (s *Server) loadRefund(c *gin.Context) (workflows.RefundState, error) {
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
	return st, err
}

func (s *Server) getRefund(c *gin.Context) error {
	st, err := s.loadRefund(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"refund": s.refundView(c, st)})
	return nil
}

// caseRefunds lists a case's refunds as recorded, refused ones included.
func (s *Server) caseRefunds(c *gin.Context) error {
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	refunds, err := s.store.CaseRefunds(c.Request.Context(), row.TenantID, row.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"refunds": recordedRefundsFor(c, refunds)})
	return nil
}

// decideRefund approves or rejects a refund waiting for a person: never the
// person who requested or appealed it, within the approver's role limit, and
// with a step-up token where the case's policy asks for one.
func (s *Server) decideRefund(c *gin.Context) error {
	st, err := s.loadRefund(c)
	if err != nil {
		return err
	}
	var req RefundDecisionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Approve == nil || utf8.RuneCountInString(req.Reason) > maxReasonRunes {
		return validationError([]FieldError{{"approve", "is required: true or false (reason at most 500 characters)"}})
	}
	if st.Policy.StepUpForApproval && !principalOf(c).steppedUpFor(StepUpMoney) {
		return errStepUpRequired
	}
	if !mayDecide(principalOf(c).Roles, st.Policy.ApprovalLimits) {
		return errorf(http.StatusForbidden, "approval_limit", "agents decide refunds only where the case's policy gives agents an approval limit")
	}
	if p := principalOf(c); p.ID == st.RequestedBy.ID || p.ID == st.RequestedVia {
		return errFourEyes // also the saga's rule; refused here before it is asked
	}
	limits, listed := st.Policy.ForCurrency(st.Currency)
	switch {
	case listed:
		if *req.Approve && !withinMinorLimit(principalOf(c).Roles, limits.Approval, st.Amount, st.Currency) {
			return errorf(http.StatusForbidden, "approval_limit", "the amount is above what your role may approve in "+st.Currency+"; ask someone with a higher limit")
		}
	case st.Currency != st.Policy.Currency && !slices.Contains(principalOf(c).Roles, policies.RoleFinance):
		return errorf(http.StatusForbidden, "approval_limit", "the policy has no limits in "+st.Currency+"; finance decides refunds in it")
	case *req.Approve && st.Currency == st.Policy.Currency && !withinApprovalLimit(principalOf(c).Roles, st.Policy.ApprovalLimits, st.Amount):
		return errorf(http.StatusForbidden, "approval_limit", "the amount is above what your role may approve; ask someone with a higher limit")
	}
	var out workflows.RefundState
	// One update ID per person: a retry is the same decision; another
	// person's is a new one, which the saga refuses once it has decided.
	if err := s.sendUpdate(c.Request.Context(), workflowUpdate{WorkflowID: workflows.RefundWorkflowID(st.TenantID, st.RefundID),
		Name: workflows.UpdateRefundDecision, ID: "decide:" + principalOf(c).ID, Finished: errNotDecision,
		Arg: workflows.RefundDecisionInput{Actor: actorOf(c), Approve: *req.Approve, Reason: req.Reason}}, &out); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"refund": s.refundView(c, out)})
	return nil
}

// appealRefund asks a person to review a refund a policy rule rejected.
func (s *Server) appealRefund(c *gin.Context) error {
	st, err := s.loadRefund(c)
	if err != nil {
		return err
	}
	var req RefundAppealRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" || utf8.RuneCountInString(req.Reason) > maxReasonRunes {
		return validationError([]FieldError{{"reason", "is required, at most 500 characters: why the rule got it wrong"}})
	}
	var out workflows.RefundState
	// An appellant's retry is the same appeal; the saga refuses anyone's second.
	if err := s.sendUpdate(c.Request.Context(), workflowUpdate{WorkflowID: workflows.RefundWorkflowID(st.TenantID, st.RefundID),
		Name: workflows.UpdateRefundAppeal, ID: "appeal:" + principalOf(c).ID, Finished: errNotAppealable,
		Arg: workflows.RefundAppealInput{Actor: actorOf(c), Reason: req.Reason}}, &out); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"refund": s.refundView(c, out)})
	return nil
}

// RefundList is the body of GET /v1/refunds.
type RefundList struct {
	Refunds    []RefundListItem `json:"refunds"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// RefundListItem is a refund in a listing, with how long it has waited
// for a person when it does.
type RefundListItem struct {
	store.Refund
	WaitingSeconds *float64 `json:"waiting_seconds,omitempty"`
	Overdue        bool     `json:"overdue"` // its approval outlived the approval SLA and was escalated
}

var refundStatuses = []string{workflows.RefundRequested, workflows.RefundAwaitingApproval, workflows.RefundApproved, workflows.RefundRejected,
	workflows.RefundAppealed, workflows.RefundPaid, workflows.RefundIssued, workflows.RefundFailed}

// listRefunds lists the tenant's refunds, oldest first: with
// status=awaiting_approval (or appealed) it is the approvers' queue.
func (s *Server) listRefunds(c *gin.Context) error {
	f := store.RefundFilter{Status: c.Query("status")}
	var errs []FieldError
	if f.Status != "" && !slices.Contains(refundStatuses, f.Status) {
		errs = append(errs, FieldError{"status", "one of " + strings.Join(refundStatuses, ", ")})
	}
	var limitErr *FieldError
	if f.Limit, limitErr = pageLimit(c, 50, 200); limitErr != nil {
		errs = append(errs, *limitErr)
	}
	f.Cursor = c.Query("cursor")
	if len(errs) > 0 {
		return validationError(errs)
	}
	refunds, next, err := s.store.ListRefunds(c.Request.Context(), principalOf(c).Tenant, f)
	if err != nil {
		return err
	}
	out := RefundList{Refunds: make([]RefundListItem, 0, len(refunds)), NextCursor: next}
	now := time.Now()
	for _, r := range refunds {
		item := RefundListItem{Refund: r, Overdue: r.EscalatedAt != nil}
		since := r.CreatedAt // a request waits for a person from the start; an appeal from when it was made
		if r.AppealedAt != nil {
			since = *r.AppealedAt
		}
		if r.Status == workflows.RefundAwaitingApproval || r.Status == workflows.RefundAppealed {
			w := now.Sub(since).Seconds()
			item.WaitingSeconds = &w
		}
		out.Refunds = append(out.Refunds, item)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// reconcile answers GET /v1/ledger/reconciliation (payments.Reconciliation,
// checked against the payment provider: payments.Reconcile);
// ?stuck_after= (a Go duration, 1s to 720h; default 15m) says how long a
// refund may stand requested or approved before it is reported stuck.
func (s *Server) reconcile(c *gin.Context) error {
	stuckAfter := payments.DefaultStuckAfter
	if raw := c.Query("stuck_after"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Second || d > 720*time.Hour {
			return validationError([]FieldError{{"stuck_after", "must be a duration from 1s to 720h, such as 15m"}})
		}
		stuckAfter = d
	}
	if s.payments == nil {
		return errorf(http.StatusServiceUnavailable, "reconciliation_unavailable",
			"reconciliation compares the ledger with the payment provider, and this server has none configured")
	}
	out, err := payments.Reconcile(c.Request.Context(), s.store, s.payments, principalOf(c).Tenant, stuckAfter)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// withinApprovalLimit says whether any of the roles may approve the amount
// under the pinned limits. With none set, supervisors and finance may
// approve any amount; agents approve only under a limit of their own.
// Rejecting needs no limit: saying no never moves money.
func withinApprovalLimit(roles []string, limits map[string]string, amount string) bool {
	want, ok := new(big.Rat).SetString(amount)
	if !ok {
		return false
	}
	for _, r := range roles {
		if len(limits) == 0 && r != "agent" && slices.Contains(service.ApproverRoles, r) {
			return true
		}
		if l, ok := new(big.Rat).SetString(limits[r]); ok && limits[r] != "" && want.Cmp(l) <= 0 {
			return true
		}
	}
	return false
}

// withinMinorLimit is withinApprovalLimit for a currency the policy lists,
// with limits in its minor units.
func withinMinorLimit(roles []string, limits map[string]int64, amount, currency string) bool {
	want, ok := service.MinorAmount(amount, currency)
	if !ok {
		return false
	}
	for _, r := range roles {
		if len(limits) == 0 && r != "agent" && slices.Contains(service.ApproverRoles, r) {
			return true
		}
		if l, ok := limits[r]; ok && want <= l {
			return true
		}
	}
	return false
}

// mayDecide: supervisors and finance decide refunds; agents only where the
// policy gives them a limit.
func mayDecide(roles []string, limits map[string]string) bool {
	for _, r := range roles {
		if r == "supervisor" || r == "finance" || (r == "agent" && limits["agent"] != "") {
			return true
		}
	}
	return false
}

// sameRefund says a refund is the one the request asks for (amounts compared
// as numbers: "20" is "20.00").
func sameRefund(st workflows.RefundState, req RefundRequest) bool {
	a, ok1 := new(big.Rat).SetString(st.Amount)
	b, ok2 := new(big.Rat).SetString(req.Amount)
	return ok1 && ok2 && a.Cmp(b) == 0 && st.OrderRef == req.OrderRef && st.Currency == req.Currency &&
		st.Kind == req.Kind && st.ReasonCode == req.ReasonCode
}

// keyedRefundID is the ID of the refund a case's request with this
// Idempotency-Key asks for: a retry asks for the same refund.
func keyedRefundID(tenant, caseID, key string) string {
	return uuid.NewSHA1(refundIDSpace, []byte(tenant+"\x00"+caseID+"\x00"+key)).String()
}
