package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Rate requests a second, bursts of Burst.
// A zero Rate means no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// limiters holds a token bucket per key (a credential, or a tenant). It
// forgets buckets unused for a while, so it stays small. One node's buckets:
// several API processes each allow the limit; a cluster would keep the
// buckets in a shared store (Redis, with GCRA) or at its gateway.
type limiters struct {
	limit RateLimit
	mu    sync.Mutex
	by    map[string]*bucket
	swept time.Time
}

type bucket struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiters(l RateLimit) *limiters { return &limiters{limit: l, by: map[string]*bucket{}} }

// take takes a token for key, or says how long until one is there.
func (ls *limiters) take(key string, now time.Time) (ok bool, remaining int, wait time.Duration) {
	if ls.limit.Rate <= 0 {
		return true, 0, 0
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := ls.bucket(key, now)
	r := b.l.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, 0, delay
	}
	return true, int(b.l.TokensAt(now)), 0
}

// ready says key has a token now, without taking it, or how long until it will.
func (ls *limiters) ready(key string, now time.Time) (bool, time.Duration) {
	if ls.limit.Rate <= 0 {
		return true, 0
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := ls.by[key]
	if b == nil {
		return true, 0
	}
	if tokens := b.l.TokensAt(now); tokens < 1 {
		return false, time.Duration((1 - tokens) / ls.limit.Rate * float64(time.Second))
	}
	return true, 0
}

// bucket is key's bucket, made on first use; buckets unused for a minute
// are forgotten. The caller holds ls.mu.
func (ls *limiters) bucket(key string, now time.Time) *bucket {
	if now.Sub(ls.swept) > time.Minute {
		for k, b := range ls.by {
			if now.Sub(b.used) > time.Minute {
				delete(ls.by, k)
			}
		}
		ls.swept = now
	}
	b := ls.by[key]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(rate.Limit(ls.limit.Rate), ls.limit.Burst)}
		ls.by[key] = b
	}
	b.used = now
	return b
}

// DefaultBadCredentialLimit bounds failed authentications per client
// address: sixty, then one a second.
var DefaultBadCredentialLimit = RateLimit{Rate: 1, Burst: 60}

// badCredentialsGate refuses, before any credential is checked, a client
// address whose failed authentications have used up its budget: guessing
// keys or tokens costs a second a guess.
func (s *Server) badCredentialsGate(c *gin.Context) {
	// Only failures spend the budget: a front end sends every customer's
	// requests from one address, and many at once. Guesses sent in
	// parallel may overshoot it by as many as are in flight together.
	if ok, wait := s.badCreds.ready(c.ClientIP(), time.Now()); !ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		respondError(c, s.log, errorf(http.StatusTooManyRequests, "too_many_failed_attempts",
			"too many failed authentications from this address; retry after the time in Retry-After"))
		return
	}
	c.Next()
	if c.GetBool(badCredentialKey) {
		s.badCreds.take(c.ClientIP(), time.Now())
	}
}

// rateLimit refuses a caller over its credential's or its tenant's limit
// with 429 and Retry-After, and tells every caller where it stands in the
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers (the
// IETF draft's, for the credential's bucket).
func (s *Server) rateLimit(c *gin.Context) {
	p := principalOf(c)
	now := time.Now()
	ok, remaining, wait := s.perKey.take(p.Tenant+"\x00"+p.Kind+"\x00"+p.ID, now)
	if ok {
		var tenantOK bool
		tenantOK, _, wait = s.perTenant.take(p.Tenant, now)
		ok = tenantOK
	}
	if s.perKey.limit.Rate > 0 {
		c.Header("RateLimit-Limit", strconv.Itoa(s.perKey.limit.Burst))
		c.Header("RateLimit-Remaining", strconv.Itoa(remaining))
		c.Header("RateLimit-Reset", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	if !ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		respondError(c, s.log, errorf(http.StatusTooManyRequests, "rate_limited",
			"too many requests for this credential or tenant; retry after the time in Retry-After"))
		return
	}
	c.Next()
}
