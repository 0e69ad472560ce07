// Package payments holds the adapters refunds move money through: the order
// system that says what a customer bought, and the payment gateway that
// pays refunds out. Both are interfaces; the built-in implementations keep
// their records in PostgreSQL so the whole flow runs locally, and the
// gateway can be told to fail, time out or answer slowly.
//
// A real payment service provider plugs in as another Gateway: send the
// refund with the idempotency key Tandem gives (Stripe-style APIs take it as
// an Idempotency-Key header), map a decline to ErrDeclined and anything
// uncertain (a timeout, a 5xx) to a plain error, which the refund saga
// retries with the same key, so the provider pays once.
package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// ErrDeclined: the gateway refused the payment for good; retrying with the
// same key will not change its mind.
var ErrDeclined = errors.New("the payment gateway declined the refund")

// Gateway pays refunds out. Pay must be idempotent by key: a repeated call
// with a key it has seen returns the first payment.
type Gateway interface {
	Pay(ctx context.Context, tenantID, key, amount, currency string) (Payment, error)
}

// Orders is the built-in order system: the order book in PostgreSQL.
type Orders struct {
	Store *store.Store
}

// Order returns an order; store.ErrOrderNotFound if there is none.
func (o Orders) Order(ctx context.Context, tenantID, orderRef string) (store.Order, error) {
	return o.Store.GetOrder(ctx, tenantID, orderRef)
}

// Behaviour is how the simulated gateway answers a tenant's payments.
type Behaviour struct {
	Decline bool          // refuse every payment (ErrDeclined)
	Hang    bool          // never answer: the caller's deadline ends the call
	Delay   time.Duration // answer, but this late
}

// Simulated is the built-in gateway: it records each payment once per
// idempotency key in PostgreSQL, as a provider honours its keys, and behaves
// as told per tenant (succeeding at once unless told otherwise).
type Simulated struct {
	Store *store.Store

	mu        sync.Mutex
	behaviour map[string]Behaviour
}

// Behave sets how the gateway answers a tenant's payments from now on.
func (g *Simulated) Behave(tenantID string, b Behaviour) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.behaviour == nil {
		g.behaviour = map[string]Behaviour{}
	}
	g.behaviour[tenantID] = b
}

// Pay records the payment under key unless it exists, after behaving as told.
func (g *Simulated) Pay(ctx context.Context, tenantID, key, amount, currency string) (Payment, error) {
	g.mu.Lock()
	b := g.behaviour[tenantID]
	g.mu.Unlock()
	switch {
	case b.Hang:
		<-ctx.Done()
		return Payment{}, fmt.Errorf("payment gateway: %w", ctx.Err())
	case b.Delay > 0:
		select {
		case <-time.After(b.Delay):
		case <-ctx.Done():
			return Payment{}, fmt.Errorf("payment gateway: %w", ctx.Err())
		}
	}
	if b.Decline {
		return Payment{}, ErrDeclined
	}
	p, created, err := g.Store.GatewayPay(ctx, tenantID, key, amount, currency, "sim_"+key)
	if err != nil {
		return Payment{}, err
	}
	return Payment{Reference: p.Reference, Duplicate: !created}, nil
}
