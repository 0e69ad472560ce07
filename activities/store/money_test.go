package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"tandem/activities/money"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/workflows"
)

// moneyCase records a case of customer ref (for the order-ownership check)
// and returns its ID.
func moneyCase(t *testing.T, st *store.Store, customerRef string) string {
	t.Helper()
	id := uuid.NewString()
	c := snapshot(1, "assigned")
	c.ID, c.WorkflowID, c.CustomerRef = id, "case:acme:"+id, customerRef
	if _, err := st.RecordCase(context.Background(), c, nil, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// request asks for a refund on the order as the built-in order book has it.
func request(st *store.Store, r store.Refund) (store.Refund, error) {
	ctx := context.Background()
	var order *store.Order
	if o, err := st.GetOrder(ctx, r.TenantID, r.OrderRef); err == nil {
		order = &o
	}
	out, _, err := st.RequestRefund(ctx, r, order, money.Budget{})
	return out, err
}

func TestRefundRequestsNeverExceedTheOrder(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	if err := st.PutOrder(ctx, "acme", "1001", "cust-1", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	caseID := moneyCase(t, st, "cust-1")
	// Ten requests of 15.00 at once: six fit in 100.00, four do not.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, over := 0, 0
	for range 10 {
		wg.Go(func() {
			_, err := request(st, store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: caseID, OrderRef: "1001",
				Amount: "15.00", Currency: "EUR", ReasonCode: "damaged", RequestedBy: "agent-1"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, money.ErrOverRefund):
				over++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 6 || over != 4 {
		t.Fatalf("%d accepted, %d refused; want 6 and 4", ok, over)
	}
	if rem, err := st.RefundableRemainder(ctx, "acme", "1001"); err != nil || rem != "10.0000" {
		t.Fatalf("remainder %q %v, want 10.0000", rem, err)
	}
}

func TestRefundRequestChecks(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	for _, o := range []string{"1001", "1002"} {
		if err := st.PutOrder(ctx, "acme", o, "cust-1", "EUR", "50.00", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mine, theirs := moneyCase(t, st, "cust-1"), moneyCase(t, st, "cust-2")
	req := func(caseID, order, amount, currency string) error {
		_, err := request(st, store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: caseID, OrderRef: order,
			Amount: amount, Currency: currency, ReasonCode: "r", RequestedBy: "a"})
		return err
	}
	for _, tc := range []struct {
		name                            string
		caseID, order, amount, currency string
		want                            error
	}{
		{"another customer's order", theirs, "1001", "10.00", "EUR", money.ErrNotCustomersOrder},
		{"no such order", mine, "9999", "10.00", "EUR", money.ErrOrderNotFound},
		{"another currency", mine, "1001", "10.00", "USD", money.ErrCurrencyMismatch},
		{"more than the order", mine, "1001", "50.01", "EUR", money.ErrOverRefund},
		{"all of it", mine, "1001", "50.00", "EUR", nil},
		{"then nothing more", mine, "1001", "0.01", "EUR", money.ErrOverRefund},
	} {
		if err := req(tc.caseID, tc.order, tc.amount, tc.currency); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A retried request (same ID) returns the stored one and takes nothing more.
	r := store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: mine, OrderRef: "1002", Kind: "goodwill_credit",
		Amount: "5.00", Currency: "EUR", ReasonCode: "late", RequestedBy: "a"}
	first, err := request(st, r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := request(st, r)
	if err != nil || again.CreatedAt != first.CreatedAt || again.Amount != "5.0000" || again.Status != "requested" {
		t.Fatalf("retry: %+v %v (first %+v)", again, err, first)
	}
	// Refused requests are on the record, rejected with the rule, and hold
	// nothing of the order: six refusals above, one auto-rejected each.
	list, err := st.CaseRefunds(ctx, "acme", mine)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]int{}
	for _, r := range list {
		if r.Status == "rejected" && r.AutoRejected && !r.Appealable {
			rules[r.Rule]++
		}
	}
	if fmt.Sprint(rules) != "map[currency_mismatch:1 order_not_found:1 over_refundable_amount:2]" {
		t.Fatalf("refusals on the record: %v", rules)
	}
}

// Compensations are money too: they count against what the order cost, and
// one customer's, over all their orders, against the policy's budget in its
// period; refunds paid back are not compensations and take no budget.
func TestCompensationsCountAgainstOrderAndBudget(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	for _, o := range []string{"A", "B", "C"} {
		if err := st.PutOrder(ctx, "acme", o, "cust-1", "EUR", "120.00", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mine := moneyCase(t, st, "cust-1")
	ask := func(order, kind, amount string, budget money.Budget) error {
		o, err := st.GetOrder(ctx, "acme", order)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = st.RequestRefund(ctx, store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: mine, OrderRef: order, Kind: kind,
			Amount: amount, Currency: "EUR", ReasonCode: "late", RequestedBy: "a"}, &o, budget)
		return err
	}
	// No budget: three credits of 45.00 are not to be had on an order of 120.00.
	for i, want := range []error{nil, nil, money.ErrOverRefund} {
		if err := ask("A", "goodwill_credit", "45.00", money.Budget{}); !errors.Is(err, want) {
			t.Fatalf("credit %d on A: %v, want %v", i+1, err, want)
		}
	}
	// A budget of 100.00 in the period: 90.00 granted on A already, so 20.00
	// on another order is over it, 10.00 is not, and a refund takes none of it.
	budget := money.Budget{Amount: "100.00", Since: time.Now().Add(-time.Hour)}
	for _, tc := range []struct {
		order, kind, amount string
		want                error
	}{
		{"B", "coupon", "20.00", money.ErrOverBudget},
		{"B", "refund", "100.00", nil},
		{"C", "fee_waiver", "10.00", nil},
		{"C", "coupon", "0.01", money.ErrOverBudget},
	} {
		if err := ask(tc.order, tc.kind, tc.amount, budget); !errors.Is(err, tc.want) {
			t.Errorf("%s %s on %s: %v, want %v", tc.kind, tc.amount, tc.order, err, tc.want)
		}
	}
	// Compensations granted before the period do not count against it.
	if err := ask("C", "coupon", "50.00", money.Budget{Amount: "50.00", Since: time.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("a fresh period: %v", err)
	}
}

// A saga's step is written once however often it is retried: the status,
// its audit entry on the case and its notifications; a rule's rejection
// that may be appealed holds its amount of the order until it is final.
func TestRefundStepsAndTheApprovalQueue(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	if err := st.PutOrder(ctx, "acme", "1001", "cust-1", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	caseID := moneyCase(t, st, "cust-1")
	var ids []string
	for range 3 {
		r, err := request(st, store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: caseID, OrderRef: "1001", Amount: "30.00",
			Currency: "EUR", ReasonCode: "damaged", RequestedBy: "agent-1"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	step := func(id, status, action string, appealable bool, n int) store.RefundStep {
		return store.RefundStep{
			Refund: store.Refund{TenantID: "acme", ID: id, CaseID: caseID, Status: status, Rule: "outside_refund_period", AutoRejected: status == "rejected", Appealable: appealable},
			Audit: store.AuditEvent{TenantID: "acme", ID: fmt.Sprintf("refund:acme:%s:%d:%s", id, n, action), Action: action, ActorKind: "system",
				ActorID: "tandem", ObjectType: "refund", ObjectID: id, CaseID: caseID, Decision: "allow", Outcome: "success", OccurredAt: time.Now()},
			NotifyTo: []string{"customer", "finance"}, Notifying: action, Step: n,
		}
	}
	for range 2 { // a retried step
		if err := st.RecordRefundStep(ctx, step(ids[0], "rejected", "refund.reject", true, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordRefundStep(ctx, step(ids[1], "awaiting_approval", "refund.awaiting_approval", false, 1)); err != nil {
		t.Fatal(err)
	}
	// The appealable rejection still holds its 30.00: 100 − 3 × 30.
	if rem, _ := st.RefundableRemainder(ctx, "acme", "1001"); rem != "10.0000" {
		t.Fatalf("remainder while appealable: %s", rem)
	}
	if err := st.RecordRefundStep(ctx, step(ids[0], "rejected", "refund.appeal_closed", false, 2)); err != nil {
		t.Fatal(err)
	}
	if rem, _ := st.RefundableRemainder(ctx, "acme", "1001"); rem != "40.0000" {
		t.Fatalf("remainder once final: %s", rem)
	}
	// A lost task's write of an earlier step, arriving late, moves nothing back.
	if err := st.RecordRefundStep(ctx, step(ids[0], "rejected", "refund.reject", true, 1)); err != nil {
		t.Fatal(err)
	}
	if r, err := st.GetRefund(ctx, "acme", ids[0]); err != nil || r.Appealable {
		t.Fatalf("after a late earlier step: %+v %v; want the final rejection", r, err)
	}
	trail, err := st.ListAudit(ctx, "acme", store.AuditFilter{CaseID: caseID, Limit: 100})
	if err != nil || len(trail) != 3 {
		t.Fatalf("audit entries on the case: %d %v, want 3", len(trail), err)
	}
	notes, err := st.CaseNotifications(ctx, "acme", caseID)
	if err != nil || len(notes) != 6 {
		t.Fatalf("notifications: %+v %v, want 6", notes, err)
	}
	everyone := store.Audience{Recipients: []string{"customer", "supervisor", "finance"}}
	first, next, err := st.PendingNotifications(ctx, "acme", everyone, "", 4)
	rest, last, err2 := st.PendingNotifications(ctx, "acme", everyone, next, 4)
	if err != nil || err2 != nil || len(first) != 4 || len(rest) != 2 || last != "" {
		t.Fatalf("pending pages: %d, %d (%v, %v)", len(first), len(rest), err, err2)
	}
	if marked, err := st.MarkNotificationSent(ctx, "acme", everyone, first[0].ID); !marked || err != nil {
		t.Fatalf("mark: %v %v", marked, err)
	}
	if marked, err := st.MarkNotificationSent(ctx, "acme", everyone, first[0].ID); marked || err != nil {
		t.Fatalf("mark again: %v %v", marked, err)
	}
	if _, err := st.MarkNotificationSent(ctx, "globex", everyone, first[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's: %v", err)
	}
	if left, _, _ := st.PendingNotifications(ctx, "acme", everyone, "", 10); len(left) != 5 {
		t.Fatalf("%d pending after one was sent, want 5", len(left))
	}
	// Each audience sees its own: the customers' gateway not the approvers'.
	customers, _, _ := st.PendingNotifications(ctx, "acme", store.Audience{Recipients: []string{"customer"}}, "", 10)
	for _, n := range customers {
		if n.Recipient != "customer" {
			t.Fatalf("a customer's gateway sees %+v", n)
		}
	}
	if len(customers) == 0 || len(customers) == 5 {
		t.Fatalf("%d of 5 pending notifications are the customers'", len(customers))
	}
	// The approval queue, a page at a time.
	queue, _, err := st.ListRefunds(ctx, "acme", store.RefundFilter{Status: "awaiting_approval", Limit: 10})
	if err != nil || len(queue) != 1 || queue[0].ID != ids[1] {
		t.Fatalf("approval queue: %+v %v", queue, err)
	}
	page1, next, _ := st.ListRefunds(ctx, "acme", store.RefundFilter{Limit: 2})
	page2, last, _ := st.ListRefunds(ctx, "acme", store.RefundFilter{Limit: 2, Cursor: next})
	if len(page1) != 2 || next == "" || len(page2) != 1 || last != "" || page2[0].ID == page1[0].ID || page2[0].ID == page1[1].ID {
		t.Fatalf("pages: %d then %d (cursors %q, %q)", len(page1), len(page2), next, last)
	}
	if _, _, err := st.ListRefunds(ctx, "acme", store.RefundFilter{Limit: 2, Cursor: "bm90LWEtY3Vyc29y"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("a foreign cursor: %v", err)
	}
	if other, _, _ := st.ListRefunds(ctx, "globex", store.RefundFilter{Limit: 10}); len(other) != 0 {
		t.Fatalf("another tenant sees %d refunds", len(other))
	}
	stats, err := st.RefundStatistics(ctx, "acme", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || stats.Requests != 3 || stats.AutoRejected != 1 {
		t.Fatalf("stats: %+v %v", stats, err)
	}
}

func TestGatewayLedgerAndReconciliation(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	refund := uuid.NewString()
	if _, err := (&payments.Simulated{Store: st}).Pay(ctx, "acme", refund, "20.00", "EUR"); err != nil {
		t.Fatal(err)
	}
	entries := []store.LedgerEntry{{TenantID: "acme", ID: refund + ":paid", RefundID: &refund, DebitAccount: "customer_refunds",
		CreditAccount: workflows.AccountClearing, Amount: "20.00", Currency: "EUR", PostedAt: time.Now()}}
	for range 2 { // a retried posting writes once
		if err := st.PostLedger(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := st.TrialBalance(ctx, "acme")
	if err != nil || fmt.Sprint(tb) != "[{customer_refunds EUR 20.0000} {psp_clearing EUR -20.0000}]" {
		t.Fatalf("trial balance: %v %v", tb, err)
	}
	// The ledger is append-only, for the application and for its owner.
	if err := st.DB().Exec("UPDATE ledger_entries SET amount = 1").Error; err == nil {
		t.Fatal("the application changed a ledger entry")
	}
	if err := db.Owner(t).Exec("DELETE FROM ledger_entries").Error; err == nil {
		t.Fatal("the owner deleted ledger entries past the trigger")
	}
}

func TestGetRefundAndCaseRefunds(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	if err := st.PutOrder(ctx, "acme", "1001", "cust-1", "EUR", "30.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	caseID := moneyCase(t, st, "cust-1")
	id := uuid.NewString()
	if _, err := request(st, store.Refund{TenantID: "acme", ID: id, CaseID: caseID, OrderRef: "1001", Amount: "7.5",
		Currency: "EUR", ReasonCode: "r", RequestedBy: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRefundStatus(ctx, "acme", id, "paid"); err != nil {
		t.Fatal(err)
	}
	r, err := st.GetRefund(ctx, "acme", id)
	if err != nil || r.Status != "paid" || r.Amount != "7.5000" || r.CaseID != caseID {
		t.Fatalf("get: %+v %v", r, err)
	}
	if _, err := st.GetRefund(ctx, "other", id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
	list, err := st.CaseRefunds(ctx, "acme", caseID)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("case refunds: %+v %v", list, err)
	}
}

// One customer's compensations asked at once on different orders (each
// order's lock lets them all through together) stay within the budget.
func TestConcurrentCompensationsStayWithinTheBudget(t *testing.T) {
	db := newStore(t)
	st := db.Store
	ctx := context.Background()
	const n = 10
	for i := range n {
		if err := st.PutOrder(ctx, "acme", fmt.Sprintf("O%d", i), "cust-1", "EUR", "120.00", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mine := moneyCase(t, st, "cust-1")
	budget := money.Budget{Amount: "100.00", Since: time.Now().Add(-time.Hour)}
	var wg sync.WaitGroup
	var granted, refused atomic.Int32
	for i := range n {
		wg.Go(func() {
			o, err := st.GetOrder(ctx, "acme", fmt.Sprintf("O%d", i))
			if err != nil {
				t.Error(err)
				return
			}
			_, _, err = st.RequestRefund(ctx, store.Refund{TenantID: "acme", ID: uuid.NewString(), CaseID: mine, OrderRef: o.OrderRef, Kind: "coupon",
				Amount: "30.00", Currency: "EUR", ReasonCode: "late", RequestedBy: "a"}, &o, budget)
			switch {
			case err == nil:
				granted.Add(1)
			case errors.Is(err, money.ErrOverBudget):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 3 || refused.Load() != n-3 {
		t.Fatalf("%d granted, %d refused: a budget of 100.00 grants three coupons of 30.00", granted.Load(), refused.Load())
	}
}
