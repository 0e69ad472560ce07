package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// Past its bound a process refuses at once, before the handler runs: 503
// overloaded when every slot is taken, 429 tenant_over_capacity when the
// caller's tenant holds its share, both with Retry-After; another tenant
// still gets the slots left; the live stream takes none; a slot freed is
// taken again.
func TestAdmissionRefusesAtOncePastCapacity(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		admission: newAdmission(Admission{InFlight: 3, PerTenant: 2, Wait: 5 * time.Millisecond}, nil)}
	release := make(chan struct{})
	var ran sync.WaitGroup
	handled := 0
	var mu sync.Mutex
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Set(principalKey, Principal{Tenant: c.GetHeader("Tenant")}); c.Next() }, s.admit)
	hold := func(c *gin.Context) {
		mu.Lock()
		handled++
		mu.Unlock()
		ran.Done()
		<-release
		c.Status(http.StatusOK)
	}
	r.GET("/v1/work", hold)
	r.GET("/v1/events", func(c *gin.Context) { c.Status(http.StatusOK) })
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func(path, tenant string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var held sync.WaitGroup
	start := func(tenant string) {
		ran.Add(1)
		held.Add(1)
		go func() { defer held.Done(); get("/v1/work", tenant).Body.Close() }()
		ran.Wait()
	}
	start("acme")
	start("acme")
	refusal := func(path, tenant string, status int, code string) {
		t.Helper()
		began := time.Now()
		resp := get(path, tenant)
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != status || body.Error.Code != code || resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("%s as %s: %d %q Retry-After %q, want %d %s", path, tenant, resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After"), status, code)
		}
		if took := time.Since(began); took > time.Second {
			t.Fatalf("refused after %v: not at once", took)
		}
	}
	refusal("/v1/work", "acme", http.StatusTooManyRequests, "tenant_over_capacity") // acme holds its two
	start("globex")                                                                 // another tenant takes the third slot
	refusal("/v1/work", "initech", http.StatusServiceUnavailable, "overloaded")     // none left
	if resp := get("/v1/events", "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the live stream was refused: %d", resp.StatusCode)
	}
	mu.Lock()
	if handled != 3 {
		t.Fatalf("%d requests reached the handler, want the 3 admitted", handled)
	}
	mu.Unlock()
	close(release)
	held.Wait()
	ran.Add(1) // the handler counts it; release is closed, so it answers at once
	if resp := get("/v1/work", "initech"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slots were freed: %d", resp.StatusCode)
	}
}
