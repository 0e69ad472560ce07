// Package notify listens to PostgreSQL's NOTIFY on a connection of its
// own, which it keeps up for as long as it runs: how a process hears that a
// row it caches or waits for has changed, without polling.
package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen runs LISTEN channel on a connection of its own until ctx ends,
// handing each notification's payload to notify. connected says it is
// listening; reset runs whenever that changes (something may have been
// missed). A lost connection is retried after a pause that grows to 10 s.
func Listen(ctx context.Context, dsn, channel string, connected *atomic.Bool, log *slog.Logger, lost string,
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
