package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// The live stream's pace: how often it looks for new events, how often it
// says it is still there, how far back it looks for events that committed
// late (positions are taken before commit, so a later one can land first),
// and how long one connection lasts before the client reconnects with
// Last-Event-ID.
const (
	streamPoll      = 100 * time.Millisecond
	streamKeepAlive = 15 * time.Second
	streamLookBack  = 200
	streamLifetime  = 30 * time.Minute
)

// eventStream is GET /v1/events: the tenant's events as Server-Sent Events
// (the webhooks' events and payloads), each with its position as the SSE
// id, filtered by what the caller may see — an agent their assigned cases
// and their queues' waiting ones, everyone else the tenant. A client that
// reconnects with Last-Event-ID (or ?after=) gets what it missed, as far as
// the backlog reaches (events are kept TANDEM_EVENT_BACKLOG); one that
// asks for more than that first gets an event "gap".
func (s *Server) eventStream(c *gin.Context) error {
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	scope, err := s.agentScope(c)
	if err != nil {
		return err
	}
	cursor, err := s.store.LatestEvent(ctx, tenant)
	if err != nil {
		return err
	}
	resumed := c.GetHeader("Last-Event-ID")
	if resumed == "" {
		resumed = c.Query("after")
	}
	gap := false
	if resumed != "" {
		from, perr := strconv.ParseInt(resumed, 10, 64)
		if perr != nil || from < 0 {
			return validationError([]FieldError{{"Last-Event-ID", "a position this stream sent"}})
		}
		oldest, err := s.store.OldestEvent(ctx, tenant)
		if err != nil {
			return err
		}
		gap = oldest > from+1
		cursor = min(from, cursor)
	}
	// The stream outlives the request timeout; it ends on its own.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetWriteDeadline(time.Now().Add(streamLifetime + time.Minute))
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	if gap {
		fmt.Fprintf(c.Writer, "event: gap\ndata: {\"oldest_kept\":true}\n\n")
	}
	fmt.Fprintf(c.Writer, ": streaming events after %d\n\n", cursor)
	_ = rc.Flush()

	// Everything after start is sent once; each poll also looks back over
	// the last streamLookBack positions for events that committed late.
	start, high, sent := cursor, cursor, map[int64]bool{}
	end := time.Now().Add(streamLifetime)
	poll, alive := time.NewTicker(streamPoll), time.NewTicker(streamKeepAlive)
	defer poll.Stop()
	defer alive.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil
		case <-alive.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			_ = rc.Flush()
			continue
		case <-poll.C:
		}
		events, next, err := s.store.EventsAfter(ctx, tenant, max(start, high-streamLookBack), scope, 500)
		if err != nil {
			s.log.WarnContext(ctx, "event stream", "err", err)
			return nil // the client reconnects with Last-Event-ID
		}
		for _, e := range events {
			if sent[e.Seq] {
				continue
			}
			sent[e.Seq] = true
			data := e.Payload
			if data == nil { // its customer was erased
				data = []byte(`{"id":"` + e.ID + `","type":"` + e.Type + `","erased":true}`)
			}
			fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data)
		}
		if len(events) > 0 {
			_ = rc.Flush()
		}
		high = max(high, next)
		for seq := range sent {
			if seq <= high-streamLookBack {
				delete(sent, seq)
			}
		}
	}
	return nil
}
