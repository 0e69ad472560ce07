package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
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

// DeliveriesDue returns the store's notifier; Listen runs it.
func (s *Store) DeliveriesDue(log *slog.Logger) *DeliveriesDue {
	return &DeliveriesDue{dsn: s.dsn, log: log, waiters: map[string]map[chan struct{}]struct{}{}}
}

// Listen receives notifications until ctx ends, connecting again (after a
// pause that grows to 10 s) whenever the connection is lost.
func (d *DeliveriesDue) Listen(ctx context.Context) {
	listen(ctx, d.dsn, dueChannel, &d.connected, d.log,
		"webhook notifications: connection lost; the delivery loops poll until it is back",
		d.wakeAll, // what was written while no one listened
		d.wake)
}

// listen runs LISTEN channel on a connection of its own until ctx ends,
// handing each notification's payload to notify. connected says it is
// listening; reset runs whenever that changes (something may have been
// missed). A lost connection is retried after a pause that grows to 10 s.
func listen(ctx context.Context, dsn, channel string, connected *atomic.Bool, log *slog.Logger, lost string,
	reset func(), notify func(payload string)) {
	const firstPause = 100 * time.Millisecond
	pause := firstPause
	for ctx.Err() == nil {
		err := listenOnce(ctx, dsn, channel, connected, reset, notify)
		if connected.Swap(false) {
			pause = firstPause // it was listening: a new outage
		}
		reset()
		if ctx.Err() != nil {
			return
		}
		log.Warn(lost, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
	}
}

func listenOnce(ctx context.Context, dsn, channel string, connected *atomic.Bool, reset func(), notify func(string)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	connected.Store(true)
	reset()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notify(n.Payload)
	}
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

// NextDeliveryAt is when the endpoint's earliest pending delivery that
// may be sent next (the oldest of its case) is due; zero if none is
// pending.
func (s *Store) NextDeliveryAt(ctx context.Context, tenantID, endpointID string) (time.Time, error) {
	var next *time.Time
	err := s.db.WithContext(ctx).Raw(`SELECT min(next_attempt_at) FROM (
			SELECT DISTINCT ON (coalesce(case_id::text, event_id)) next_attempt_at
			FROM webhook_deliveries WHERE tenant_id = ? AND endpoint_id = ? AND status = 'pending'
			ORDER BY coalesce(case_id::text, event_id), event_seq) heads`, tenantID, endpointID).Row().Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next delivery: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return *next, nil
}
