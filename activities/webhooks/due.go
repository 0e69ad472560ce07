package webhooks

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"tandem/activities/notify"
)

// dueChannel is the channel PostgreSQL notifies (migration 0032's trigger)
// when a webhook delivery becomes pending: "tenant:endpoint".
const dueChannel = "tandem_webhook_due"

// DeliveriesDue wakes a webhook endpoint's delivery loop when a delivery
// for it is written, so that an idle loop waits on PostgreSQL's
// LISTEN/NOTIFY instead of asking for due deliveries every few
// milliseconds. One per process: Listen holds one connection of its own.
// A notification lost while that connection is down is made up for by
// waking every loop when it is back.
type DeliveriesDue struct {
	dsn       string
	log       *slog.Logger
	connected atomic.Bool
	mu        sync.Mutex
	waiters   map[string]map[chan struct{}]struct{}
}

// NewDeliveriesDue returns the notifier of the database at dsn; Listen runs it.
func NewDeliveriesDue(dsn string, log *slog.Logger) *DeliveriesDue {
	return &DeliveriesDue{dsn: dsn, log: log, waiters: map[string]map[chan struct{}]struct{}{}}
}

// Listen receives notifications until ctx ends, connecting again (after a
// pause that grows to 10 s) whenever the connection is lost.
func (d *DeliveriesDue) Listen(ctx context.Context) {
	notify.Listen(ctx, d.dsn, dueChannel, &d.connected, d.log,
		"webhook notifications: connection lost; the delivery loops poll until it is back",
		d.wakeAll, // what was written while no one listened
		d.wake)
}

// Subscribe returns a channel that receives when a delivery for the
// endpoint is written (or notifications may have been missed), and a
// function to stop. Subscribe before reading what is due, so that a
// delivery written in between still wakes the reader.
func (d *DeliveriesDue) Subscribe(tenantID, endpointID string) (<-chan struct{}, func()) {
	key := tenantID + ":" + endpointID
	ch := make(chan struct{}, 1)
	d.mu.Lock()
	if d.waiters[key] == nil {
		d.waiters[key] = map[chan struct{}]struct{}{}
	}
	d.waiters[key][ch] = struct{}{}
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.waiters[key], ch)
		if len(d.waiters[key]) == 0 {
			delete(d.waiters, key)
		}
	}
}

// Listening says notifications are being received; while they are not,
// loops must poll.
func (d *DeliveriesDue) Listening() bool { return d.connected.Load() }

func (d *DeliveriesDue) wake(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.waiters[key] {
		signal(ch)
	}
}

func (d *DeliveriesDue) wakeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, chs := range d.waiters {
		for ch := range chs {
			signal(ch)
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // already signalled
	}
}
