package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/workflows"
)

// Two views of a case. Staff see everything their role may; a front end
// (an API key) answers a customer and sees what the customer may know: the
// conversation and where the case stands, never the AI's readings of them
// (emotion, confidence), who on the staff handles it, or the policies and
// limits behind it.

// customerFacing says the caller is a support front end.
func customerFacing(c *gin.Context) bool { return principalOf(c).Kind == "service" }

// customerView is a case as its customer may see it.
func (j CaseJSON) customerView() CaseJSON {
	j.Queue, j.Assignee, j.Escalation, j.OfferedTo = "", "", "", ""
	j.Policy, j.SLADueAt, j.SLABreached = nil, nil, nil
	j.Tags, j.Fields = nil, nil
	return j
}

// customerView hides which person of the staff wrote a message (the AI's
// engine stays: the customer may know a machine answered).
func (m MessageJSON) customerView() MessageJSON {
	if m.AuthorKind == workflows.AuthorAgent {
		m.AuthorID = ""
	}
	return m
}

func (e ExchangeJSON) customerView() ExchangeJSON {
	e.Case, e.Message = e.Case.customerView(), e.Message.customerView()
	if e.Reply != nil {
		r := e.Reply.customerView()
		e.Reply = &r
	}
	return e
}

// exchangeFor is the exchange as the caller may see it.
func exchangeFor(c *gin.Context, e ExchangeJSON) ExchangeJSON {
	if customerFacing(c) {
		return e.customerView()
	}
	return e
}

// caseFor is the case as the caller may see it.
func caseFor(c *gin.Context, j CaseJSON) CaseJSON {
	if customerFacing(c) {
		return j.customerView()
	}
	return j
}

// CustomerCase is GET /v1/cases/{id} for a front end: the case and a page
// of its conversation; no timeline, no metrics.
type CustomerCase struct {
	Case      CaseJSON      `json:"case"`
	Messages  []MessageJSON `json:"messages"`
	NextAfter int64         `json:"next_after,omitempty"`
}

// CustomerRefund is a refund as its customer may see it: what was asked,
// where it stands and why, whether they may appeal; not who decided, the
// policy's limits or the saga's steps.
type CustomerRefund struct {
	RefundID    string     `json:"refund_id"`
	CaseID      string     `json:"case_id"`
	OrderRef    string     `json:"order_ref"`
	Kind        string     `json:"kind"`
	Amount      string     `json:"amount"`
	Currency    string     `json:"currency"`
	ReasonCode  string     `json:"reason_code"`
	Status      string     `json:"status"`
	Rule        string     `json:"rule,omitempty"`
	Appealable  bool       `json:"appealable"`
	AppealUntil *time.Time `json:"appeal_until,omitempty"`
	Overturned  bool       `json:"overturned"`
}

// StaffRefund is a refund as the staff see it: where its saga stands, and
// the files of the case its evidence names.
type StaffRefund struct {
	workflows.RefundState
	EvidenceFiles []AttachmentJSON `json:"evidence_files,omitempty"`
}

// refundView is a refund as the caller may see it.
func (s *Server) refundView(c *gin.Context, st workflows.RefundState) any {
	if !customerFacing(c) {
		return StaffRefund{RefundState: st, EvidenceFiles: s.evidenceFiles(c, st)}
	}
	return CustomerRefund{RefundID: st.RefundID, CaseID: st.CaseID, OrderRef: st.OrderRef, Kind: st.Kind, Amount: st.Amount,
		Currency: st.Currency, ReasonCode: st.ReasonCode, Status: st.Status, Rule: st.Rule, Appealable: st.Appealable,
		AppealUntil: st.AppealUntil, Overturned: st.Overturned}
}

// recordedRefundsFor are a case's refund records as the caller may see them.
func recordedRefundsFor(c *gin.Context, rs []store.Refund) any {
	if !customerFacing(c) {
		return rs
	}
	out := make([]CustomerRefund, 0, len(rs))
	for _, r := range rs {
		out = append(out, CustomerRefund{RefundID: r.ID, CaseID: r.CaseID, OrderRef: r.OrderRef, Kind: r.Kind, Amount: r.Amount,
			Currency: r.Currency, ReasonCode: r.ReasonCode, Status: r.Status, Rule: r.Rule, Appealable: r.Appealable, Overturned: r.Overturned})
	}
	return out
}
