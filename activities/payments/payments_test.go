package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tandem/activities/money"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

func newGateway(t *testing.T) (*payments.Simulated, *store.Store) {
	db := storetest.New(t)
	if err := db.EnsureTenant(context.Background(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	return &payments.Simulated{Store: db.Store}, db.Store
}

func TestSimulatedGatewayPaysOncePerKey(t *testing.T) {
	g, _ := newGateway(t)
	ctx := context.Background()
	first, err := g.Pay(ctx, "acme", "refund-1", "12.50", "EUR")
	if err != nil || first.Duplicate || first.Reference == "" {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := g.Pay(ctx, "acme", "refund-1", "99.00", "EUR") // the key decides: the first payment stands
	if err != nil || !again.Duplicate || again.Reference != first.Reference {
		t.Fatalf("retry: %+v %v", again, err)
	}
	found, err := g.Lookup(ctx, "acme", "refund-1")
	if err != nil || !found.Paid || found.Reference != first.Reference || !money.SameAmount(found.Amount, "12.50") || found.Currency != "EUR" {
		t.Fatalf("looked up: %+v %v", found, err)
	}
	if none, err := g.Lookup(ctx, "acme", "refund-2"); err != nil || none.Paid {
		t.Fatalf("a key never paid: %+v %v", none, err)
	}
}

func TestSimulatedGatewayMisbehavesAsTold(t *testing.T) {
	g, _ := newGateway(t)
	ctx := context.Background()
	g.Behave("acme", payments.Behaviour{Decline: true})
	if _, err := g.Pay(ctx, "acme", "k1", "1.00", "EUR"); !errors.Is(err, payments.ErrDeclined) {
		t.Fatalf("declining: %v", err)
	}
	g.Behave("acme", payments.Behaviour{Hang: true})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Pay(short, "acme", "k2", "1.00", "EUR"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging: %v", err)
	}
	g.Behave("acme", payments.Behaviour{Delay: 100 * time.Millisecond})
	start := time.Now()
	if p, err := g.Pay(ctx, "acme", "k3", "1.00", "EUR"); err != nil || p.Duplicate || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("slow: %+v %v after %v", p, err, time.Since(start))
	}
	// Neither the decline nor the hang paid anything: those keys are free.
	g.Behave("acme", payments.Behaviour{})
	for _, k := range []string{"k1", "k2"} {
		if p, err := g.Pay(ctx, "acme", k, "1.00", "EUR"); err != nil || p.Duplicate {
			t.Fatalf("%s after recovery: %+v %v", k, p, err)
		}
	}
}

func TestOrders(t *testing.T) {
	_, st := newGateway(t)
	ctx := context.Background()
	if err := st.PutOrder(ctx, "acme", "A-1", "cust-1", "EUR", "99.90", time.Now()); err != nil {
		t.Fatal(err)
	}
	o, err := payments.Orders{Store: st}.Order(ctx, "acme", "A-1")
	if err != nil || o.Total != "99.9000" || o.Currency != "EUR" {
		t.Fatalf("order: %+v %v", o, err)
	}
	if _, err := (payments.Orders{Store: st}).Order(ctx, "acme", "nope"); !errors.Is(err, money.ErrOrderNotFound) {
		t.Fatalf("missing order: %v", err)
	}
}
