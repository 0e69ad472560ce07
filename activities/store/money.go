package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"tandem/activities/money"
	"tandem/workflows"
)

// Order is an order of the built-in order book. Total is a decimal string.
type Order struct {
	TenantID     string    `json:"tenant_id"`
	OrderRef     string    `json:"order_ref"`
	CustomerHash []byte    `json:"-"`
	Currency     string    `json:"currency"`
	Total        string    `json:"total"`
	PlacedAt     time.Time `json:"placed_at"`
}

// PutOrder adds an order of a customer to the order book (demo data and tests).
func (s *Store) PutOrder(ctx context.Context, tenantID, orderRef, customerRef, currency, total string, placedAt time.Time) error {
	hash, err := s.CustomerHash(ctx, tenantID, customerRef)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Exec(`INSERT INTO orders (tenant_id, order_ref, customer_hash, currency, total, placed_at)
		VALUES (?, ?, ?, ?, ?::numeric, ?) ON CONFLICT DO NOTHING`, tenantID, orderRef, hash, currency, total, placedAt).Error
}

// CustomerHash is the tenant's blind index of a customer reference: what an
// order system adapter puts in Order.CustomerHash.
func (s *Store) CustomerHash(ctx context.Context, tenantID, customerRef string) ([]byte, error) {
	return s.customerHash(ctx, tenantID, customerRef)
}

// Refund is a refund or compensation request and where it stands.
type Refund struct {
	TenantID     string     `json:"tenant_id"`
	ID           string     `json:"id"`
	CaseID       string     `json:"case_id"`
	OrderRef     string     `json:"order_ref"`
	Kind         string     `json:"kind"`   // refund, goodwill_credit, coupon, fee_waiver, shipping_refund
	Amount       string     `json:"amount"` // decimal string
	Currency     string     `json:"currency"`
	ReasonCode   string     `json:"reason_code"`
	Status       string     `json:"status"` // requested, awaiting_approval, approved, rejected, appealed, paid, issued, failed
	Rule         string     `json:"rule,omitempty"`
	AutoRejected bool       `json:"auto_rejected"`
	Appealable   bool       `json:"appealable"`
	DecidedBy    string     `json:"decided_by,omitempty"`
	AppealedBy   string     `json:"appealed_by,omitempty"`
	AppealedAt   *time.Time `json:"appealed_at,omitempty"`
	Overturned   bool       `json:"overturned"`
	EscalatedAt  *time.Time `json:"escalated_at,omitempty"`
	PaymentRef   string     `json:"payment_ref,omitempty"`
	Items        RawJSON    `json:"items"`
	Evidence     RawJSON    `json:"evidence"`
	RequestedBy  string     `json:"requested_by"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// RawJSON is a JSON list as PostgreSQL keeps it, passed on as it is (a
// refund's items and evidence).
type RawJSON []byte

// Scan reads a json or jsonb column.
func (j *RawJSON) Scan(v any) error {
	switch x := v.(type) {
	case string:
		*j = RawJSON(x)
	case []byte:
		*j = append(RawJSON(nil), x...)
	case nil:
		*j = nil
	default:
		return fmt.Errorf("RawJSON cannot hold a %T", v)
	}
	return nil
}

// MarshalJSON writes the list as it is; none (SQL or JSON null, as a
// compensation records it) is an empty list.
func (j RawJSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 || string(j) == "null" {
		return []byte("[]"), nil
	}
	return j, nil
}

// refundSelect reads amounts back as text, so no float ever holds money.
const refundSelect = `SELECT tenant_id, id::text AS id, case_id::text AS case_id, order_ref, kind, amount::text AS amount,
	currency, reason_code, status, rule, auto_rejected, appealable, decided_by, appealed_by, appealed_at, overturned,
	escalated_at, payment_ref, items::text AS items, evidence::text AS evidence, requested_by, created_at, updated_at FROM refunds`

// paidOut are the kinds that pay money back against an order, so count
// against its refundable remainder; the rest are compensations.
const paidOut = `('refund', 'shipping_refund')`

// holdsRemainder: a refund holds its amount of the order unless it failed
// or was rejected for good; one a rule rejected holds it while it may be
// appealed, so an overturned appeal can still be paid in full.
var holdsRemainder = holdsRemainderOf("refunds")

// holdsRemainderOf is holdsRemainder of the refunds table named alias.
func holdsRemainderOf(alias string) string {
	return alias + `.status <> '` + workflows.RefundFailed + `' AND NOT (` + alias + `.status = '` + workflows.RefundRejected + `' AND NOT ` + alias + `.appealable)`
}

// RequestRefund records a request for an order as the order system gave it
// (nil: it has none): an order of the case's customer, in the order's
// currency, for no more than the order's refundable remainder (its total
// less every refund paid out or on its way). Requests on one order are
// serialised by a lock on it, so concurrent ones cannot together exceed it.
// A refused request is recorded too, rejected with its money.Refusal as the rule,
// and the money.Refusal returned. A request whose ID exists returns the stored one
// (created false): a retry.
func (s *Store) RequestRefund(ctx context.Context, r Refund, order *Order, budget money.Budget) (out Refund, created bool, err error) {
	if r.Kind == "" {
		r.Kind = "refund"
	}
	if len(r.Items) == 0 {
		r.Items = RawJSON("[]")
	}
	if len(r.Evidence) == 0 {
		r.Evidence = RawJSON("[]")
	}
	var refusal error
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "order:"+r.TenantID+":"+r.OrderRef).Error; err != nil {
			return fmt.Errorf("lock order: %w", err)
		}
		var existing []Refund
		if err := tx.Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&existing).Error; err != nil {
			return fmt.Errorf("read refund: %w", err)
		}
		if len(existing) > 0 {
			out = existing[0]
			return nil
		}
		refusal = checkRefund(tx, r, order, budget)
		status, rule := workflows.RefundRequested, ""
		var fact money.Refusal
		if errors.As(refusal, &fact) {
			status, rule = workflows.RefundRejected, string(fact)
		} else if refusal != nil {
			return refusal
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := tx.Exec(`INSERT INTO refunds (tenant_id, id, case_id, order_ref, kind, amount, currency, reason_code, status, rule,
				auto_rejected, items, evidence, requested_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?::numeric, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?)`,
			r.TenantID, r.ID, r.CaseID, r.OrderRef, r.Kind, r.Amount, r.Currency, r.ReasonCode, status, rule,
			rule != "", string(r.Items), string(r.Evidence), r.RequestedBy, now, now).Error; err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		created = true
		return tx.Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&out).Error
	})
	if err != nil {
		return out, false, err
	}
	return out, created, refusal
}

// checkRefund returns the money.Refusal that refuses the request, if any.
func checkRefund(tx *gorm.DB, r Refund, order *Order, budget money.Budget) error {
	if order == nil {
		return money.ErrOrderNotFound
	}
	var owner []struct{ CustomerHash []byte }
	if err := tx.Raw(`SELECT customer_hash FROM cases WHERE tenant_id = ? AND id = ?`, r.TenantID, r.CaseID).Scan(&owner).Error; err != nil {
		return fmt.Errorf("read case: %w", err)
	}
	if len(owner) == 0 {
		return NotFound("case")
	}
	if string(owner[0].CustomerHash) != string(order.CustomerHash) {
		return money.ErrNotCustomersOrder
	}
	if r.Currency != order.Currency {
		return money.ErrCurrencyMismatch
	}
	// Refunds and compensations alike count against what the order cost:
	// three credits of 45.00 are not to be had on an order of 120.00.
	var fits bool
	if err := tx.Raw(`SELECT ?::numeric - coalesce((SELECT sum(amount) FROM refunds
			WHERE tenant_id = ? AND order_ref = ? AND `+holdsRemainder+`), 0) >= ?::numeric`,
		order.Total, r.TenantID, r.OrderRef, r.Amount).Scan(&fits).Error; err != nil {
		return fmt.Errorf("refundable remainder: %w", err)
	}
	if !fits {
		return money.ErrOverRefund
	}
	if workflows.PaysOut(r.Kind) || budget.Amount == "" || budget.Currency != "" && r.Currency != budget.Currency {
		return nil
	}
	// A customer's compensations, over all their orders, within the budget:
	// serialised per customer (the order's lock only serialises its own
	// requests), always after the order's lock, so no two wait on each other.
	if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
		"budget:"+r.TenantID+":"+hex.EncodeToString(order.CustomerHash)).Error; err != nil {
		return fmt.Errorf("lock the customer's budget: %w", err)
	}
	if err := tx.Raw(`SELECT ?::numeric - coalesce((SELECT sum(f.amount) FROM refunds f JOIN cases c ON c.tenant_id = f.tenant_id AND c.id = f.case_id
			WHERE f.tenant_id = ? AND c.customer_hash = ? AND f.kind NOT IN `+paidOut+` AND f.currency = ? AND f.created_at >= ? AND `+holdsRemainderOf("f")+`), 0) >= ?::numeric`,
		budget.Amount, r.TenantID, order.CustomerHash, r.Currency, budget.Since, r.Amount).Scan(&fits).Error; err != nil {
		return fmt.Errorf("compensation budget: %w", err)
	}
	if !fits {
		return money.ErrOverBudget
	}
	return nil
}

// RefundableRemainder is what is left to refund on an order, as a decimal string.
func (s *Store) RefundableRemainder(ctx context.Context, tenantID, orderRef string) (string, error) {
	var rem []string
	err := s.db.WithContext(ctx).Raw(`SELECT (o.total - coalesce((SELECT sum(amount) FROM refunds f
			WHERE f.tenant_id = o.tenant_id AND f.order_ref = o.order_ref AND `+holdsRemainderOf("f")+`), 0))::text
		FROM orders o WHERE o.tenant_id = ? AND o.order_ref = ?`, tenantID, orderRef).Scan(&rem).Error
	if err != nil {
		return "", fmt.Errorf("refundable remainder: %w", err)
	}
	if len(rem) == 0 {
		return "", money.ErrOrderNotFound
	}
	return rem[0], nil
}

// GetOrder returns an order of the tenant's order book.
func (s *Store) GetOrder(ctx context.Context, tenantID, orderRef string) (Order, error) {
	var out []Order
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, order_ref, customer_hash, currency, total::text AS total, placed_at
		FROM orders WHERE tenant_id = ? AND order_ref = ?`, tenantID, orderRef).Scan(&out).Error
	if err != nil {
		return Order{}, fmt.Errorf("get order: %w", err)
	}
	if len(out) == 0 {
		return Order{}, money.ErrOrderNotFound
	}
	return out[0], nil
}

// SetRefundStatus records where a refund stands (runs before refund-v2).
func (s *Store) SetRefundStatus(ctx context.Context, tenantID, id, status string) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE refunds SET status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		status, time.Now().UTC(), tenantID, id)
	if res.Error != nil {
		return fmt.Errorf("set refund status: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("refund")
	}
	return nil
}

// RefundStep is a step of a refund's saga: where the refund stands after it,
// its entry on the case's audit trail (and so its timeline), and whom to tell.
type RefundStep struct {
	Refund    Refund // TenantID, ID and the fields the saga owns
	Step      int    // the saga's step: a write of an earlier one than recorded changes nothing
	Audit     AuditEvent
	NotifyTo  []string
	Notifying string // the notification's kind
}

// RecordRefundStep writes a step in one transaction. The audit entry's and
// notifications' IDs come from the step, so a retried step writes once. A
// step earlier than the one recorded (a lost workflow task's write arriving
// late) changes nothing: a refund's status never moves back.
func (s *Store) RecordRefundStep(ctx context.Context, step RefundStep) error {
	r := step.Refund
	return s.InTx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Exec(`UPDATE refunds SET status = ?, rule = ?, auto_rejected = ?, appealable = ?, decided_by = ?,
				appealed_by = ?, appealed_at = ?, overturned = ?, escalated_at = ?, payment_ref = ?, updated_at = ?, last_step = ?
			WHERE tenant_id = ? AND id = ? AND last_step <= ?`,
			r.Status, r.Rule, r.AutoRejected, r.Appealable, r.DecidedBy, r.AppealedBy, r.AppealedAt, r.Overturned, r.EscalatedAt,
			r.PaymentRef, step.Audit.OccurredAt, step.Step, r.TenantID, r.ID, step.Step)
		if res.Error != nil {
			return fmt.Errorf("record refund step: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.db.WithContext(ctx).Raw(`SELECT count(*) FROM refunds WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&n).Error; err != nil {
				return fmt.Errorf("read refund: %w", err)
			}
			if n == 0 {
				return NotFound("refund")
			}
			return nil // a later step is recorded
		}
		if _, err := tx.appendAudit(ctx, step.Audit); err != nil {
			return err
		}
		for _, to := range step.NotifyTo {
			if err := tx.db.WithContext(ctx).Exec(`INSERT INTO notifications (tenant_id, id, case_id, recipient, kind, subject_id, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				r.TenantID, step.Audit.ID+":"+to, r.CaseID, to, step.Notifying, r.ID, step.Audit.OccurredAt).Error; err != nil {
				return fmt.Errorf("notify %s: %w", to, err)
			}
		}
		var full Refund
		if err := tx.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", r.TenantID, r.ID).Take(&full).Error; err != nil {
			return fmt.Errorf("read refund: %w", err)
		}
		return emitWebhookEvents(ctx, tx.db, r.TenantID, refundWebhookEvents(full, step.Audit), "", nil, nil)
	})
}

// RefundFilter narrows a listing of a tenant's refunds.
type RefundFilter struct {
	Status string
	Cursor string // from the previous page's next cursor
	Limit  int
}

// ListRefunds lists a tenant's refunds, oldest first, a page at a time (the
// approval queue when asked for those awaiting approval), with the cursor of
// the next page ("" after the last).
func (s *Store) ListRefunds(ctx context.Context, tenantID string, f RefundFilter) ([]Refund, string, error) {
	q, args := refundSelect+` WHERE tenant_id = ?`, []any{tenantID}
	if f.Status != "" {
		q, args = q+` AND status = ?`, append(args, f.Status)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil || !validUUID(id) {
			return nil, "", ErrBadCursor
		}
		q, args = q+` AND (created_at, id) > (?, ?::uuid)`, append(args, at, id)
	}
	out := []Refund{}
	if err := s.db.WithContext(ctx).Raw(q+` ORDER BY created_at, id LIMIT ?`, append(args, f.Limit+1)...).Scan(&out).Error; err != nil {
		return nil, "", fmt.Errorf("list refunds: %w", err)
	}
	out, next := page(out, f.Limit, func(r Refund) (time.Time, string) { return r.CreatedAt, r.ID })
	return out, next, nil
}

// RefundStats are a tenant's refund decisions: how many requests rules
// rejected, and how many of those appealed a person overturned.
type RefundStats struct {
	Requests     int64 `json:"requests"`
	AutoRejected int64 `json:"auto_rejected"`
	Appealed     int64 `json:"appealed"`
	Overturned   int64 `json:"overturned"`
	Escalated    int64 `json:"approvals_escalated"`
}

// RefundStatistics counts the decisions on a tenant's refunds requested in [from, to).
func (s *Store) RefundStatistics(ctx context.Context, tenantID string, from, to time.Time) (RefundStats, error) {
	var out RefundStats
	err := s.db.WithContext(ctx).Raw(`SELECT count(*) AS requests,
			count(*) FILTER (WHERE auto_rejected) AS auto_rejected,
			count(*) FILTER (WHERE appealed_at IS NOT NULL) AS appealed,
			count(*) FILTER (WHERE overturned) AS overturned,
			count(*) FILTER (WHERE escalated_at IS NOT NULL) AS escalated
		FROM refunds WHERE tenant_id = ? AND created_at >= ? AND created_at < ?`, tenantID, from, to).Scan(&out).Error
	if err != nil {
		return out, fmt.Errorf("refund statistics: %w", err)
	}
	return out, nil
}

// CaseRefunds lists a case's refund requests, oldest first.
func (s *Store) CaseRefunds(ctx context.Context, tenantID, caseID string) ([]Refund, error) {
	out := []Refund{}
	if !validUUID(caseID) {
		return out, nil
	}
	if err := s.db.WithContext(ctx).Raw(refundSelect+` WHERE tenant_id = ? AND case_id = ? ORDER BY created_at, id`, tenantID, caseID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("case refunds: %w", err)
	}
	return out, nil
}

// GetRefund returns a recorded refund of the tenant.
func (s *Store) GetRefund(ctx context.Context, tenantID, id string) (Refund, error) {
	var out []Refund
	if !validUUID(id) {
		return Refund{}, NotFound("refund")
	}
	if err := s.db.WithContext(ctx).Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&out).Error; err != nil {
		return Refund{}, fmt.Errorf("get refund: %w", err)
	}
	if len(out) == 0 {
		return Refund{}, NotFound("refund")
	}
	return out[0], nil
}
