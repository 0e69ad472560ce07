package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"tandem/api"
)

// A credential over its limit gets 429 with Retry-After and the RateLimit
// headers; another credential of the tenant is not held back by it; the
// tenant's own limit holds all its credentials together.
func TestRateLimits(t *testing.T) {
	s := newStack(t)
	h := newAPIWith(t, s.store, s.temporal, s.queue, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, 0,
		api.Config{PerKeyLimit: api.RateLimit{Rate: 0.01, Burst: 5}, PerTenantLimit: api.RateLimit{Rate: 0.01, Burst: 8}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL

	var limited response
	for i := range 6 {
		r := s.do("GET", "/v1/cases", tenantA+"/supervisor", nil)
		if i < 5 && r.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, r.Status, r.Body)
		}
		if r.Header.Get("RateLimit-Limit") != "5" {
			t.Fatalf("RateLimit-Limit = %q", r.Header.Get("RateLimit-Limit"))
		}
		limited = r
	}
	if limited.Status != http.StatusTooManyRequests || limited.errorCode(t) != "rate_limited" {
		t.Fatalf("the sixth request: %d %s", limited.Status, limited.Body)
	}
	if wait, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || wait < 1 {
		t.Fatalf("Retry-After %q", limited.Header.Get("Retry-After"))
	}
	// Another person of the tenant has a bucket of their own, until the
	// tenant's runs out too: 8 in all, 5 of them taken.
	for i := range 4 {
		r := s.do("GET", "/v1/cases", tenantA+"/compliance", nil)
		if want := http.StatusOK; i == 3 {
			want = http.StatusTooManyRequests
			if r.Status != want {
				t.Fatalf("past the tenant's limit: %d %s", r.Status, r.Body)
			}
		} else if r.Status != want {
			t.Fatalf("another credential, request %d: %d %s", i, r.Status, r.Body)
		}
	}
	// Another tenant is not held back at all.
	if r := s.do("GET", "/v1/cases", tenantB+"/supervisor", nil); r.Status != http.StatusOK {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}
}

// Guessing credentials is rate limited by client address before any
// credential is checked: past the budget of failures every request from the
// address is 429 with Retry-After, a good credential too, until the budget
// refills; requests with good credentials use none of it.
func TestFailedAuthenticationsAreLimitedByAddress(t *testing.T) {
	s := newStack(t)
	h := newAPIWith(t, s.store, s.temporal, s.queue, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, 0,
		api.Config{BadCredentialLimit: api.RateLimit{Rate: 0.01, Burst: 3}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	// Good credentials spend nothing, however many arrive at once from one
	// address (a front end sends all its customers' requests).
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.do("GET", "/v1/cases", tenantA, nil).Status })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("good request %d of 20 at once: %d", i, st)
		}
	}
	for i := range 3 {
		if r := s.do("GET", "/v1/cases", "raw:Bearer tdm_guess_"+strconv.Itoa(i), nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
		}
	}
	for _, who := range []string{"raw:Bearer tdm_guess_again", tenantA} {
		r := s.do("GET", "/v1/cases", who, nil)
		if wait, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests ||
			r.errorCode(t) != "too_many_failed_attempts" || err != nil || wait < 1 {
			t.Fatalf("%s after the budget: %d %v %s", who, r.Status, r.Header, r.Body)
		}
	}
}
