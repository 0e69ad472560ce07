package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tandem/policies"
)

// burstSend is one customer message the burst sent, and what became of it.
type burstSend struct {
	phase, tenant string
	caseID, key   string
	at            time.Time
	took          time.Duration
	status        int    // 0: no answer
	code          string // the error's code
	retryAfter    bool
}

// runBurst runs `tandem bench -burst`: customer messages sent on a
// schedule, never retried, in three phases — steady, a burst of one tenant
// at factor× the steady rate, steady again — by a bursting tenant and a
// quiet one, against the running API. It reports each phase's goodput,
// latency, refusals and errors per tenant, checks every acknowledged
// message against the records, and says how long after the burst the
// bursting tenant's p99 took to return within 1.2× its steady figure.
func runBurst(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench -burst", flag.ContinueOnError)
	apiURL := fs.String("api", "http://"+cfg.HTTPAddr, "base URL of the running API")
	rate := fs.Float64("rate", 60, "steady messages a second, both tenants together (about half of one process pair's capacity)")
	factor := fs.Float64("factor", 10, "the bursting tenant's rate during the burst, times the steady rate")
	steady := fs.Duration("steady", 30*time.Second, "each steady phase's length (before and after)")
	burstFor := fs.Duration("burst-for", 60*time.Second, "the burst's length")
	cases := fs.Int("cases", 100, "open cases per tenant the messages go to")
	burster := fs.String("tenant", demoTenant, "the tenant that bursts")
	quiet := fs.String("quiet", "bench-quiet", "the tenant that does not (made if missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate <= 0 || *factor < 1 || *cases < 1 {
		return errors.New("bench -burst: -rate, -factor (at least 1) and -cases must be positive")
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.EnsureTenant(ctx, *quiet, *quiet); err != nil {
		return err
	}
	keys := map[string]string{}
	for _, t := range []string{*burster, *quiet} {
		apiKey, key, err := st.CreateAPIKey(ctx, t, "bench-burst", policies.RoleService)
		if err != nil {
			return fmt.Errorf("bench: create API key in %q (run tandem seed): %w", t, err)
		}
		defer st.RevokeAPIKey(context.WithoutCancel(ctx), t, key.ID) //nolint:errcheck // best effort
		keys[t] = apiKey
	}
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	runID := hex.EncodeToString(run)

	var mu sync.Mutex
	caseIDs := map[string][]string{}
	for _, t := range []string{*burster, *quiet} {
		// Opened 8 at a time: under any tenant's share of the process, so
		// setting up is never refused.
		res := measure(ctx, *cases, 8, func(ctx context.Context, i int) error {
			body, _ := json.Marshal(map[string]string{"customer_ref": "burst-" + runID + "-" + strconv.Itoa(i), "channel": "api",
				"subject": "burst", "message": "Where is my order?"})
			var out struct {
				Case struct{ ID string } `json:"case"`
			}
			if err := postJSON(ctx, httpc, *apiURL+"/v1/cases", keys[t], body, http.StatusCreated, &out); err != nil {
				return err
			}
			mu.Lock()
			caseIDs[t] = append(caseIDs[t], out.Case.ID)
			mu.Unlock()
			return nil
		})
		if res.errors > 0 {
			return fmt.Errorf("bench -burst: %d of %d openings in %s failed: %v", res.errors, *cases, t, res.firstErr)
		}
	}

	var sent []burstSend
	var wg sync.WaitGroup
	send := func(phase, tenant string, n int) {
		defer wg.Done()
		mu.Lock()
		ids := caseIDs[tenant]
		mu.Unlock()
		s := burstSend{phase: phase, tenant: tenant, caseID: ids[n%len(ids)], key: fmt.Sprintf("burst-%s-%s-%d", runID, tenant, n), at: time.Now()}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *apiURL+"/v1/cases/"+s.caseID+"/messages",
			strings.NewReader(`{"body":"How long does a refund take?"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keys[tenant])
		req.Header.Set("Idempotency-Key", s.key)
		resp, err := httpc.Do(req)
		s.took = time.Since(s.at)
		if err == nil {
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = json.Unmarshal(raw, &body)
			s.status, s.code, s.retryAfter = resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After") != ""
		}
		mu.Lock()
		sent = append(sent, s)
		mu.Unlock()
	}
	quietRate := *rate / 4
	phases := []struct {
		name  string
		d     time.Duration
		rates map[string]float64
	}{
		{"before", *steady, map[string]float64{*burster: *rate - quietRate, *quiet: quietRate}},
		{"burst", *burstFor, map[string]float64{*burster: *rate * *factor, *quiet: quietRate}},
		{"after", *steady, map[string]float64{*burster: *rate - quietRate, *quiet: quietRate}},
	}
	counter := map[string]int{}
	burstEnd := time.Time{}
	for _, p := range phases {
		end := time.Now().Add(p.d)
		var pw sync.WaitGroup
		for tenant, r := range p.rates {
			pw.Add(1)
			go func() {
				defer pw.Done()
				every := time.Duration(float64(time.Second) / r)
				next := time.Now()
				for next.Before(end) {
					time.Sleep(time.Until(next))
					mu.Lock()
					n := counter[tenant]
					counter[tenant]++
					mu.Unlock()
					wg.Add(1)
					go send(p.name, tenant, n)
					next = next.Add(every)
				}
			}()
		}
		pw.Wait()
		if p.name == "burst" {
			burstEnd = time.Now()
		}
	}
	wg.Wait()

	// Every acknowledged message is in the records.
	var served []string
	for _, s := range sent {
		if s.status/100 == 2 {
			served = append(served, s.key)
		}
	}
	var recorded int64
	for chunk := range slices.Chunk(served, 1000) {
		var n int64
		if err := st.DB().WithContext(ctx).Raw(`SELECT count(DISTINCT client_key) FROM messages WHERE client_key IN ?`, chunk).Scan(&n).Error; err != nil {
			return err
		}
		recorded += n
	}

	fmt.Fprintf(stdout, "%-7s %-12s %7s %9s %9s %9s  %-40s %s\n", "phase", "tenant", "sent", "served/s", "p50_ms", "p99_ms", "refused (status code: n)", "other errors")
	steadyP99 := map[string]time.Duration{}
	for _, p := range phases {
		for _, tenant := range []string{*burster, *quiet} {
			var ok []time.Duration
			refused := map[string]int{}
			other := map[string]int{}
			n := 0
			for _, s := range sent {
				if s.phase != p.name || s.tenant != tenant {
					continue
				}
				n++
				switch {
				case s.status/100 == 2:
					ok = append(ok, s.took)
				case (s.status == http.StatusTooManyRequests || s.status == http.StatusServiceUnavailable) && s.retryAfter:
					refused[fmt.Sprintf("%d %s", s.status, s.code)]++
				default:
					other[fmt.Sprintf("%d %s", s.status, s.code)]++
				}
			}
			p50, p99 := percentiles(ok)
			if p.name == "before" {
				steadyP99[tenant] = p99
			}
			fmt.Fprintf(stdout, "%-7s %-12s %7d %9.1f %9.1f %9.1f  %-40s %s\n", p.name, tenant, n, float64(len(ok))/p.d.Seconds(),
				ms(p50), ms(p99), countsLine(refused), countsLine(other))
		}
	}
	fmt.Fprintf(stdout, "acknowledged %d, in the records %d, lost %d\n", len(served), recorded, int64(len(served))-recorded)
	// Recovery: the first 5-second window after the burst from which on the
	// bursting tenant's p99 stays within 1.2× its steady figure.
	recovered := time.Duration(-1)
	for off := time.Duration(0); off < *steady; off += time.Second {
		ok := true
		for w := off; w < *steady; w += 5 * time.Second {
			var lat []time.Duration
			for _, s := range sent {
				if s.tenant == *burster && s.phase == "after" && s.status/100 == 2 && !s.at.Before(burstEnd.Add(w)) && s.at.Before(burstEnd.Add(w+5*time.Second)) {
					lat = append(lat, s.took)
				}
			}
			if _, p99 := percentiles(lat); len(lat) == 0 || float64(p99) > 1.2*float64(steadyP99[*burster]) {
				ok = false
				break
			}
		}
		if ok {
			recovered = off
			break
		}
	}
	if recovered < 0 {
		fmt.Fprintf(stdout, "recovery: p99 not back within 1.2× of %.1f ms in the %s after the burst\n", ms(steadyP99[*burster]), *steady)
	} else {
		fmt.Fprintf(stdout, "recovery: p99 back within 1.2× of %.1f ms %s after the burst\n", ms(steadyP99[*burster]), recovered)
	}
	return nil
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)*50/100], d[min(len(d)-1, len(d)*99/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func countsLine(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
