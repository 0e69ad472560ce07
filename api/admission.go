package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Admission bounds the requests a process works on at once. Past its
// capacity more work in flight only makes every request slower until they
// all time out (goodput falls to nothing while the queues in Go, Temporal
// and PostgreSQL grow); refused at once, a client retries after
// Retry-After and the work admitted finishes in its usual time.
type Admission struct {
	// InFlight is the most requests the process works on at once; past it,
	// 503 overloaded with Retry-After. 0: no bound.
	InFlight int
	// PerTenant is the most of them one tenant may hold, so that one
	// tenant's peak never takes every slot; past it, 429
	// tenant_over_capacity. 0: InFlight.
	PerTenant int
	// Wait is how long a request waits for a slot before it is refused.
	Wait time.Duration
}

// DefaultAdmission fits one API process beside a worker on two cores: they
// serve about 130 messages a second at a p50 of 100–250 ms (docs/benchmarks.md),
// about 32 in flight (Little's law). One tenant may take three quarters:
// more than one front end's usual concurrency (the benchmark's 20). Half
// served a burst better (docs/benchmarks.md, "A tenant's burst") but
// refuses such a front end in normal load.
var DefaultAdmission = Admission{InFlight: 32, PerTenant: 24, Wait: 20 * time.Millisecond}

// admission is Admission at work: a semaphore of slots and a count per tenant.
type admission struct {
	Admission
	slots   chan struct{}
	mu      sync.Mutex
	tenants map[string]int

	inFlight metric.Int64UpDownCounter
	refused  metric.Int64Counter
	waited   metric.Float64Histogram
}

func newAdmission(a Admission, m metric.Meter) *admission {
	if a.InFlight <= 0 {
		return nil
	}
	if a.PerTenant <= 0 || a.PerTenant > a.InFlight {
		a.PerTenant = a.InFlight
	}
	if m == nil {
		m = noop.NewMeterProvider().Meter("")
	}
	inFlight, _ := m.Int64UpDownCounter("tandem_http_in_flight", metric.WithDescription("requests admitted and not yet answered")) // a noop on error
	refused, _ := m.Int64Counter("tandem_http_refused", metric.WithDescription("requests refused past capacity, by reason (overloaded: the process; tenant_over_capacity: the tenant's share)"))
	waited, _ := m.Float64Histogram("tandem_http_admission_wait", metric.WithUnit("s"),
		metric.WithDescription("how long admitted requests waited for a slot"),
		metric.WithExplicitBucketBoundaries(.0001, .001, .005, .01, .02, .05))
	return &admission{Admission: a, slots: make(chan struct{}, a.InFlight), tenants: map[string]int{},
		inFlight: inFlight, refused: refused, waited: waited}
}

var (
	errOverloaded = &Error{Status: http.StatusServiceUnavailable, Code: "overloaded", RetryAfter: 1,
		Message: "the service is at capacity; retry after the time in Retry-After (nothing was done)"}
	errTenantOverCapacity = &Error{Status: http.StatusTooManyRequests, Code: "tenant_over_capacity", RetryAfter: 1,
		Message: "this tenant has as many requests in progress as it may; retry after the time in Retry-After (nothing was done)"}
)

// admit lets a request through when the process and its tenant have a
// slot for it, within a.Wait; otherwise it refuses it before anything is
// read or written. The live stream holds its connection for half an hour
// and is bounded on its own (streams per credential): it takes no slot.
func (s *Server) admit(c *gin.Context) {
	a := s.admission
	if a == nil || c.FullPath() == "/v1/events" {
		c.Next()
		return
	}
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	if !a.takeTenant(tenant) {
		a.refuse(c, errTenantOverCapacity)
		return
	}
	defer a.releaseTenant(tenant)
	start := time.Now()
	if !a.takeSlot(ctx) {
		a.refuse(c, errOverloaded)
		return
	}
	a.waited.Record(ctx, time.Since(start).Seconds())
	a.inFlight.Add(ctx, 1)
	defer func() {
		<-a.slots
		a.inFlight.Add(ctx, -1)
	}()
	c.Next()
}

// refuse answers a request refused past capacity: counted, not logged (a
// peak would flood the log with lines that say what the metric does).
func (a *admission) refuse(c *gin.Context, e *Error) {
	a.refused.Add(c.Request.Context(), 1, metric.WithAttributes(attribute.String("reason", e.Code)))
	c.Header("Retry-After", strconv.Itoa(e.RetryAfter))
	c.AbortWithStatusJSON(e.Status, gin.H{"error": e})
}

func (a *admission) takeSlot(ctx context.Context) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(a.Wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (a *admission) takeTenant(tenant string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tenants[tenant] >= a.PerTenant {
		return false
	}
	a.tenants[tenant]++
	return true
}

func (a *admission) releaseTenant(tenant string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tenants[tenant]--; a.tenants[tenant] <= 0 {
		delete(a.tenants, tenant)
	}
}
