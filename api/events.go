package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
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
	// streamRecheck is how often a stream checks its credential again.
	streamRecheck = time.Second
	// maxStreamsPerCaller bounds one credential's open streams.
	maxStreamsPerCaller = 5
)

// eventFilter is what the caller may see of the tenant's events.
func (s *Server) eventFilter(c *gin.Context) (store.EventFilter, error) {
	p := principalOf(c)
	scope, err := s.agentScope(c)
	if err != nil {
		return store.EventFilter{}, err
	}
	f := store.EventFilter{Scope: scope, Channels: p.Channels}
	if p.Customer != "" {
		if f.CustomerHash, err = s.store.CustomerHash(c.Request.Context(), p.Tenant, p.Customer); err != nil {
			return store.EventFilter{}, err
		}
	}
	return f, nil
}

// streamCounts counts each caller's open event streams.
type streamCounts struct {
	mu sync.Mutex
	by map[string]int
}

// open takes one of key's streams, or says it has all it may have; release
// gives it back.
func (sc *streamCounts) open(key string) (release func(), ok bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.by == nil {
		sc.by = map[string]int{}
	}
	if sc.by[key] >= maxStreamsPerCaller {
		return nil, false
	}
	sc.by[key]++
	return func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.by[key]--; sc.by[key] == 0 {
			delete(sc.by, key)
		}
	}, true
}

// eventStream is GET /v1/events: the tenant's events as Server-Sent Events
// (the webhooks' events and payloads), each with its position as the SSE
// id, filtered by what the caller may see — an agent their assigned cases
// and their queues' waiting ones, everyone else the tenant. A client that
// reconnects with Last-Event-ID (or ?after=) gets what it missed, as far as
// the backlog reaches (events are kept TANDEM_EVENT_BACKLOG); one that
// asks for more than that first gets an event "gap".
func (s *Server) eventStream(c *gin.Context) error {
	ctx := c.Request.Context()
	p := principalOf(c)
	tenant := p.Tenant
	filter, err := s.eventFilter(c)
	if err != nil {
		return err
	}
	release, ok := s.streams.open(p.Tenant + "\x00" + p.Kind + "\x00" + p.ID)
	if !ok {
		return errorf(http.StatusTooManyRequests, "too_many_streams",
			fmt.Sprintf("at most %d event streams at once for one credential; close one first", maxStreamsPerCaller))
	}
	defer release()
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
	// Reading the stream is reading conversations: it is audited like a case read.
	if err := s.audit(c, auditEntry{Action: "events.stream", ObjectType: "events"}); err != nil {
		return err
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
	poll, alive, recheck := time.NewTicker(streamPoll), time.NewTicker(streamKeepAlive), time.NewTicker(streamRecheck)
	defer poll.Stop()
	defer alive.Stop()
	defer recheck.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil
		case <-alive.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			_ = rc.Flush()
			continue
		case <-recheck.C:
			// The credential is checked again as the stream goes on: a
			// revoked or expired one, or an agent moved off a queue, sees
			// no more than a new request would.
			again, err := s.identify(c)
			if err != nil || again.Tenant != p.Tenant || again.Kind != p.Kind || again.ID != p.ID {
				fmt.Fprint(c.Writer, "event: credential_ended\ndata: {}\n\n")
				_ = rc.Flush()
				return nil
			}
			c.Set(principalKey, again)
			if filter, err = s.eventFilter(c); err != nil {
				return nil // the client reconnects with Last-Event-ID
			}
			continue
		case <-poll.C:
		}
		events, next, err := s.store.EventsAfter(ctx, tenant, max(start, high-streamLookBack), filter, 500)
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
