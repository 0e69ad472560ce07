package activities_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tandem/activities"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/policies/service"
	"tandem/workflows"
)

// script is how the gateway treats one payment: decline it, fail before
// paying, or pay and lose the answer (as a timeout would), a number of times.
type script struct {
	decline          bool
	failBefore, lose int
}

// scriptedGateway pays through the simulated gateway, following each
// payment's script.
type scriptedGateway struct {
	sim  *payments.Simulated
	mu   sync.Mutex
	plan map[string]*script
}

func (g *scriptedGateway) Lookup(ctx context.Context, tenantID, key string) (payments.Found, error) {
	return g.sim.Lookup(ctx, tenantID, key)
}

func (g *scriptedGateway) Payments(ctx context.Context, tenantID string) ([]payments.Found, error) {
	return g.sim.Payments(ctx, tenantID)
}

func (g *scriptedGateway) Pay(ctx context.Context, tenantID, key, amount, currency string) (payments.Payment, error) {
	g.mu.Lock()
	sc := g.plan[key]
	if sc == nil {
		sc = &script{}
	}
	decline, before := sc.decline, sc.failBefore > 0
	if before {
		sc.failBefore--
	}
	g.mu.Unlock()
	switch {
	case decline:
		return payments.Payment{}, payments.ErrDeclined
	case before:
		return payments.Payment{}, errors.New("gateway unavailable")
	}
	p, err := g.sim.Pay(ctx, tenantID, key, amount, currency)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil && sc.lose > 0 {
		sc.lose--
		return payments.Payment{}, errors.New("gateway timed out after the payment went out")
	}
	return p, err
}

// A property of the refund saga over the real activities and PostgreSQL:
// whatever sequence of refunds and compensations is asked for, whatever
// the gateway does (declines, fails before paying, pays and loses the
// answer) and however often a saga is run again for the same refund, the
// ledger balances, agrees with the gateway payment by payment, owes
// nothing in flight, and no order ever pays out more than its total.
// The seed is logged; TANDEM_PROPERTY_SEED replays one, TANDEM_PROPERTY_RUNS
// runs more sequences.
func TestRefundLedgerProperty(t *testing.T) {
	db := storetest.New(t)
	st := db.Store
	ctx := context.Background()
	if err := st.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("TANDEM_PROPERTY_SEED"), 10, 64); err == nil {
		seed = s
	}
	runs := 25
	if n, err := strconv.Atoi(os.Getenv("TANDEM_PROPERTY_RUNS")); err == nil && n > 0 {
		runs = n
	}
	t.Logf("seed %d (TANDEM_PROPERTY_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	gw := &scriptedGateway{sim: &payments.Simulated{Store: st}, plan: map[string]*script{}}
	acts := &activities.Activities{Store: st, Gateway: gw}
	policy := service.Refunds{AutoApproveLimit: "50.00", Currency: "EUR", NonRefundableReasons: []string{"used_item"},
		AppealWindow: service.Duration(time.Hour)}

	for run := range runs {
		caseID, order := uuid.NewString(), fmt.Sprintf("o-%d", run)
		if _, err := st.RecordCase(ctx, store.Case{TenantID: "acme", ID: caseID, WorkflowID: "case:acme:" + caseID, CustomerRef: "cust",
			Channel: "api", Priority: "normal", Status: "assigned", LastSeq: 1, OpenedAt: time.Now(), UpdatedAt: time.Now()}, nil, nil); err != nil {
			t.Fatal(err)
		}
		total := cents(1000 + rng.IntN(49000))
		if err := st.PutOrder(ctx, "acme", order, "cust", "EUR", total, time.Now()); err != nil {
			t.Fatal(err)
		}
		var asked []workflows.RefundInput
		for range 3 + rng.IntN(8) {
			var in workflows.RefundInput
			if len(asked) > 0 && rng.IntN(5) == 0 { // a saga run again for a refund already asked for
				in = asked[rng.IntN(len(asked))]
			} else {
				in = workflows.RefundInput{TenantID: "acme", CaseID: caseID, RefundID: uuid.NewString(), OrderRef: order,
					Kind:   []string{"refund", "refund", "refund", "shipping_refund", "goodwill_credit", "coupon"}[rng.IntN(6)],
					Amount: cents(1 + rng.IntN(30000)), Currency: "EUR", ReasonCode: []string{"damaged", "late", "used_item"}[rng.IntN(3)],
					RequestedBy: workflows.Actor{Kind: "user", ID: "agent-1"}, Policy: policy}
				gw.mu.Lock()
				gw.plan[in.RefundID] = &script{decline: rng.IntN(6) == 0, failBefore: rng.IntN(3), lose: rng.IntN(3)}
				gw.mu.Unlock()
				asked = append(asked, in)
			}
			runSaga(t, acts, in, rng.IntN(3) > 0)
		}
		checkLedger(t, st, order, total, asked)
	}
}

// runSaga runs one saga to its end in the test environment, a person
// approving (or rejecting) it if it waits for one.
func runSaga(t *testing.T, acts *activities.Activities, in workflows.RefundInput, approve bool) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.RefundWorkflow, workflow.RegisterOptions{Name: workflows.RefundWorkflowName})
	acts.Register(env)
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, workflows.SignalRefundFailed, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRefundDecision, "sup", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(error) {}, OnComplete: func(any, error) {}},
			workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "sam"}, Approve: approve})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("saga %s: %v", in.RefundID, err)
	}
}

func checkLedger(t *testing.T, st *store.Store, order, total string, asked []workflows.RefundInput) {
	t.Helper()
	ctx := context.Background()
	rec, err := payments.Reconcile(ctx, st, &payments.Simulated{Store: st}, "acme", payments.DefaultStuckAfter)
	if err != nil || !rec.Balanced || !rec.Reconciled {
		t.Fatalf("order %s: ledger %+v %v", order, rec, err)
	}
	for _, b := range rec.TrialBalance {
		if b.Account == workflows.AccountPayable && rat(b.Balance).Sign() != 0 {
			t.Fatalf("order %s: %s owed in flight after every saga ended", order, b.Balance)
		}
	}
	paidOut := new(big.Rat)
	for _, in := range asked {
		r, err := st.GetRefund(ctx, "acme", in.RefundID)
		if err != nil {
			t.Fatal(err)
		}
		var payments []struct{ Amount string }
		if err := st.DB().Raw(`SELECT amount::text AS amount FROM gateway_payments WHERE tenant_id = 'acme' AND idempotency_key = ?`,
			in.RefundID).Scan(&payments).Error; err != nil {
			t.Fatal(err)
		}
		if len(payments) > 1 || (len(payments) == 1) != (r.Status == workflows.RefundPaid) {
			t.Fatalf("refund %s (%s, %s): %d gateway payments", in.RefundID, r.Kind, r.Status, len(payments))
		}
		for _, p := range payments {
			paidOut.Add(paidOut, rat(p.Amount))
		}
	}
	if paidOut.Cmp(rat(total)) > 0 {
		t.Fatalf("order %s of %s paid out %s", order, total, paidOut.FloatString(2))
	}
}

func cents(n int) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

func rat(s string) *big.Rat {
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("not a decimal: " + s)
	}
	return v
}
