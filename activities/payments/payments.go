// Package payments holds the adapters refunds move money through: the order
// system that says what a customer bought, and the payment provider that
// pays refunds out. Both are interfaces; the built-in implementations keep
// their records in PostgreSQL so the whole flow runs locally, and the
// simulated provider fails as a real one does when told to.
//
// A real payment service provider plugs in as another Gateway: Pay sends
// the refund with the idempotency key Tandem gives (Stripe-style APIs take
// it as an Idempotency-Key header) and maps a decline to ErrDeclined and
// anything uncertain (a timeout, a 5xx, a dropped connection) to a plain
// error; Lookup asks the provider what it did under a key (a payment
// retrieved by its idempotency key or by the metadata it was sent with).
// Payments lists what the provider paid for a tenant (its settlement
// report). The refund saga looks a payment up before trying it again and
// never takes an uncertain answer for a failure; reconciliation compares
// the ledger with the provider's payments.
package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"tandem/activities/store"
)

// OrderSystem says what a customer bought.
type OrderSystem interface {
	Order(ctx context.Context, tenantID, orderRef string) (store.Order, error)
}

// Payment is a gateway's answer to a refund it paid.
type Payment struct {
	Reference string `json:"reference"` // the gateway's own ID
	Duplicate bool   `json:"duplicate"` // the key was seen before: nothing was paid again
}

// Found is what a provider says it did under a key.
type Found struct {
	Key       string `json:"key"`
	Paid      bool   `json:"paid"` // false: the provider has no payment under the key
	Reference string `json:"reference,omitempty"`
	Amount    string `json:"amount,omitempty"` // decimal, as paid
	Currency  string `json:"currency,omitempty"`
}

// ErrDeclined: the gateway refused the payment for good; retrying with the
// same key will not change its mind.
var ErrDeclined = errors.New("the payment gateway declined the refund")

// Gateway pays refunds out. Pay must be idempotent by key: a repeated call
// with a key it has seen returns the first payment. Lookup says whether a
// payment went out under key; Payments lists every payment made for the
// tenant (a provider's settlement report), for reconciliation. An error
// means the provider did not say.
type Gateway interface {
	Pay(ctx context.Context, tenantID, key, amount, currency string) (Payment, error)
	Lookup(ctx context.Context, tenantID, key string) (Found, error)
	Payments(ctx context.Context, tenantID string) ([]Found, error)
}

// Orders is the built-in order system: the order book in PostgreSQL.
type Orders struct {
	Store *store.Store
}

// Order returns an order; money.ErrOrderNotFound if there is none.
func (o Orders) Order(ctx context.Context, tenantID, orderRef string) (store.Order, error) {
	return o.Store.GetOrder(ctx, tenantID, orderRef)
}

// Behaviour is how the simulated gateway answers a tenant's calls. The
// counters are used up one call at a time, in the order listed, so a test
// can say "the next payment goes out and its answer is lost, the five
// calls after it get a 5xx, then the provider is back".
type Behaviour struct {
	Decline bool          // refuse every payment (ErrDeclined)
	Hang    bool          // never answer: the caller's deadline ends the call
	Delay   time.Duration // answer, but this late
	// LoseReplies: the next N payments go out, and their answer is lost on
	// the way back (the caller sees a reset connection).
	LoseReplies int
	// Unavailable: the next N calls (Pay or Lookup) answer as a 5xx does,
	// having done nothing.
	Unavailable int
	// TimeOuts: the next N calls do nothing and never answer.
	TimeOuts int
}

// ErrUnavailable is the simulated provider's 5xx.
var ErrUnavailable = errors.New("payment gateway: 503 service unavailable")

// Simulated is the built-in gateway: it records each payment once per
// idempotency key in PostgreSQL, as a provider honours its keys, and behaves
// as told per tenant (succeeding at once unless told otherwise).
type Simulated struct {
	Store *store.Store

	mu        sync.Mutex
	behaviour map[string]Behaviour
}

// Behave sets how the gateway answers a tenant's calls from now on.
func (g *Simulated) Behave(tenantID string, b Behaviour) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.behaviour == nil {
		g.behaviour = map[string]Behaviour{}
	}
	g.behaviour[tenantID] = b
}

// misbehaviour is what this call does instead of answering, using up one
// count of the tenant's behaviour.
type misbehaviour int

const (
	answer misbehaviour = iota
	unavailable
	timeOut
	loseReply
)

func (g *Simulated) next(tenantID string, paying bool) (Behaviour, misbehaviour) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.behaviour[tenantID]
	m := answer
	switch {
	case paying && b.LoseReplies > 0:
		b.LoseReplies--
		m = loseReply
	case b.Unavailable > 0:
		b.Unavailable--
		m = unavailable
	case b.TimeOuts > 0:
		b.TimeOuts--
		m = timeOut
	}
	if g.behaviour != nil {
		g.behaviour[tenantID] = b
	}
	return b, m
}

// Pay records the payment under key unless it exists, after behaving as told.
func (g *Simulated) Pay(ctx context.Context, tenantID, key, amount, currency string) (Payment, error) {
	b, m := g.next(tenantID, true)
	if err := g.wait(ctx, b, m); err != nil {
		return Payment{}, err
	}
	if b.Decline {
		return Payment{}, ErrDeclined
	}
	p, created, err := g.record(ctx, tenantID, key, amount, currency, "sim_"+key)
	if err != nil {
		return Payment{}, err
	}
	if m == loseReply {
		return Payment{}, fmt.Errorf("payment gateway: reading the answer: %w", syscall.ECONNRESET)
	}
	return Payment{Reference: p.Reference, Duplicate: !created}, nil
}

// Lookup says whether a payment went out under key.
func (g *Simulated) Lookup(ctx context.Context, tenantID, key string) (Found, error) {
	b, m := g.next(tenantID, false)
	if err := g.wait(ctx, b, m); err != nil {
		return Found{}, err
	}
	p, ok, err := g.payment(ctx, tenantID, key)
	if err != nil || !ok {
		return Found{}, err
	}
	return Found{Key: key, Paid: true, Reference: p.Reference, Amount: p.Amount, Currency: p.Currency}, nil
}

// Payments lists every payment the simulated provider made for the tenant.
func (g *Simulated) Payments(ctx context.Context, tenantID string) ([]Found, error) {
	b, m := g.next(tenantID, false)
	if err := g.wait(ctx, b, m); err != nil {
		return nil, err
	}
	ps, err := g.payments(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Found, 0, len(ps))
	for _, p := range ps {
		out = append(out, Found{Key: p.IdempotencyKey, Paid: true, Reference: p.Reference, Amount: p.Amount, Currency: p.Currency})
	}
	return out, nil
}

// wait behaves as told before a call does its work: an error is the
// provider not answering.
func (g *Simulated) wait(ctx context.Context, b Behaviour, m misbehaviour) error {
	switch {
	case m == unavailable:
		return ErrUnavailable
	case m == timeOut || b.Hang:
		<-ctx.Done()
		return fmt.Errorf("payment gateway: %w", ctx.Err())
	case b.Delay > 0:
		select {
		case <-time.After(b.Delay):
		case <-ctx.Done():
			return fmt.Errorf("payment gateway: %w", ctx.Err())
		}
	}
	return nil
}
