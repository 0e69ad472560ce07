package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
)

// The agent's day on real processes (two API processes, two workers):
// duplicates merged, a macro that replies, tags and sets a field, a rule
// that sends a gold case to the vip queue with tighter targets, a
// supervisor's bulk close of 1,000 stale cases with the workers killed by
// SIGKILL midway, their export, a customer's rating comment in the
// statistics, and every step on the trail a compliance officer reads.
func TestFaultAgentsDay(t *testing.T) {
	if os.Getenv("TANDEM_FAULTS") == "" {
		t.Skip("fault tests run with TANDEM_FAULTS=1 (make test-faults, which make test runs)")
	}
	h := newHarness(t, twoServeTwoWorkers, devServer)
	d := &day{h: h, client: &http.Client{Timeout: 30 * time.Second}}
	admin := d.steppedUp(d.token("admin-1", "admin"))
	ana, sam, carol := d.token("ana", "agent"), d.token("sam", "supervisor"), d.token("carol", "compliance")

	// The admin's morning: a schema, a rule, a macro; ana works two queues.
	d.must(admin, "PUT", "/v1/admin/case-fields/tier", api.CaseFieldRequest{Type: "enum", Options: []string{"gold", "silver"}}, nil, 201)
	d.must(admin, "PUT", "/v1/admin/case-fields/area", api.CaseFieldRequest{Type: "enum", Options: []string{"delivery", "billing"}}, nil, 201)
	policy, _ := service.Profile("efficiency-first")
	policy.Routing.Rules = []service.RoutingRule{{Field: "tier", Equals: "gold", Queue: "vip", Priority: "urgent"}}
	d.must(admin, "PUT", "/v1/admin/service-policy", policy, nil, 200)
	var macro api.MacroBody
	d.must(admin, "POST", "/v1/macros", map[string]any{"name": "Parcel: ask for a photo",
		"replies": map[string]string{"en": "Hello {{customer.ref}}, could you send a photo of the parcel? — {{agent.id}}"},
		"actions": map[string]any{"add_tags": []string{"parcel"}, "fields": map[string]string{"area": "delivery"}, "then": "reply"}}, &macro, 201)
	d.must(sam, "PUT", "/v1/agents/ana/queues", api.QueuesRequest{Queues: []string{"general", "vip"}}, nil, 200)
	d.must(ana, "PUT", "/v1/agents/ana/availability", map[string]any{"status": "available", "capacity": 10}, nil, 200)

	// Two cases from one customer about one parcel: the duplicate is merged.
	first := d.open("day-cust", "My parcel for order 77 has not arrived.")
	dup := d.open("day-cust", "Again: where is my parcel for order 77?")
	d.must(sam, "POST", "/v1/cases/"+dup+"/merge", map[string]string{"into": first}, nil, 200)
	var merged struct {
		Error struct {
			Code   string `json:"code"`
			CaseID string `json:"case_id"`
		} `json:"error"`
	}
	if code := d.call(h.apiKey, "POST", "/v1/cases/"+dup+"/messages", map[string]string{"body": "Hello?"}, &merged); code != 409 ||
		merged.Error.Code != "case_merged" || merged.Error.CaseID != first {
		t.Fatalf("a message to the merged duplicate: %d %+v, want 409 case_merged", code, merged.Error)
	}

	// ana takes the case and applies the macro: a reply, a tag, a field.
	d.must(h.apiKey, "POST", "/v1/cases/"+first+"/messages", map[string]string{"body": "I want to talk to a human agent please"}, nil, 200)
	d.must(ana, "POST", "/v1/cases/"+first+"/claim", nil, nil, 200)
	var applied api.AppliedMacro
	d.must(ana, "POST", "/v1/cases/"+first+"/macros/"+macro.Macro.ID, api.ApplyMacroRequest{Language: "en"}, &applied, 200)
	if applied.Message == nil || !strings.HasPrefix(applied.Message.Body, "Hello day-cust, could you send a photo") ||
		!slices.Contains(applied.Case.Tags, "parcel") || applied.Case.Fields["area"] != "delivery" {
		t.Fatalf("the macro: case %+v, message %+v", applied.Case, applied.Message)
	}

	// A gold customer's case moves to vip, urgent, with an earlier deadline.
	gold := d.open("day-gold", "My order 78 is late and I want to talk to a human agent please")
	before := d.staffCase(sam, gold)
	var after struct{ Case api.CaseJSON }
	d.must(sam, "POST", "/v1/cases/"+gold+"/fields", map[string]any{"fields": map[string]string{"tier": "gold"}}, &after, 200)
	if before.Queue != "general" || before.SLADueAt == nil || after.Case.Queue != "vip" || after.Case.Priority != "urgent" ||
		after.Case.SLADueAt == nil || !after.Case.SLADueAt.Before(*before.SLADueAt) {
		t.Fatalf("gold: before %s %v, after %s %s %v", before.Queue, before.SLADueAt, after.Case.Queue, after.Case.Priority, after.Case.SLADueAt)
	}

	// 1,000 stale cases, closed in bulk while the workers are killed.
	stale := d.openMany(1000)
	var bulk api.BulkBody
	d.must(sam, "POST", "/v1/bulk", api.BulkRequest{Action: "close", CaseIDs: stale, Reason: "stale", Rate: 100}, &bulk, 202)
	if bulk.Bulk.Total != len(stale) {
		t.Fatalf("the bulk action selected %d cases, want %d", bulk.Bulk.Total, len(stale))
	}
	progress := func() api.BulkBody {
		var b api.BulkBody
		d.must(sam, "GET", "/v1/bulk/"+bulk.Bulk.ID+"?limit=1", nil, &b, 200)
		return b
	}
	for deadline := time.Now().Add(2 * time.Minute); progress().Bulk.Counts["done"] < 300; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.fatalf("the bulk action made no progress: %+v", progress().Bulk)
		}
	}
	// Both workers, so that the one running the bulk action's page dies
	// for certain, by their PIDs.
	t.Logf("killing the workers with %d of %d cases closed", progress().Bulk.Counts["done"], len(stale))
	h.killTandem(2)
	h.killTandem(3)
	h.startTandem(2)
	h.startTandem(3)
	var done api.BulkBody
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if done = progress(); done.Bulk.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			h.fatalf("the bulk action did not finish: %+v", done.Bulk)
		}
	}
	t.Logf("the bulk action %s: %v", done.Bulk.Status, done.Bulk.Counts)
	if done.Bulk.Status != "completed" || done.Bulk.Counts["done"] != len(stale) || done.Bulk.Counts["failed"] != 0 {
		h.fatalf("the bulk action finished: %+v", done.Bulk)
	}
	closes := d.countByCase(`SELECT case_id, count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'case.close' GROUP BY case_id`)
	for _, id := range stale {
		if closes[id] != 1 {
			h.errorf("case %s closed %d times, want once", id, closes[id])
		}
	}

	// The export lists every one of them, closed as stale.
	exported := map[string]string{}
	for _, row := range d.export(sam, "/v1/cases/export?status=closed") {
		exported[row.ID] = row.CloseReason
	}
	for _, id := range stale {
		if exported[id] != "stale" {
			h.errorf("the export has case %s as %q, want closed as stale", id, exported[id])
		}
	}

	// ana resolves the parcel case; the customer's comment reaches the statistics.
	d.must(ana, "POST", "/v1/cases/"+first+"/resolve", api.ResolveRequest{Code: "answered"}, nil, 200)
	d.must(h.apiKey, "POST", "/v1/cases/"+first+"/rating", api.RatingRequest{Score: 5, Comment: "Ana found my parcel."}, nil, 200)
	var stats struct {
		CSATComments []store.CSATComment `json:"csat_comments"`
	}
	d.must(sam, "GET", "/v1/stats", nil, &stats, 200)
	if !slices.ContainsFunc(stats.CSATComments, func(c store.CSATComment) bool { return c.CaseID == first && c.Comment == "Ana found my parcel." }) {
		h.errorf("the statistics' comments: %+v", stats.CSATComments)
	}

	// carol reads every step on the trail, and the chain holds.
	for id, want := range map[string][]string{
		first:    {"case.open", "case.merged_from", "case.escalate", "case.claim", "case.macro", "case.resolve", "case.rating"},
		dup:      {"case.open", "case.close"},
		gold:     {"case.open", "case.escalate", "case.fields"},
		stale[0]: {"case.open", "case.close"},
	} {
		var trail api.CaseTrail
		d.must(carol, "GET", "/v1/cases/"+id+"/trail?limit=500", nil, &trail, 200)
		var actions []string
		for _, e := range trail.Trail {
			actions = append(actions, e.Event.Action)
		}
		for _, a := range want {
			if !slices.Contains(actions, a) {
				h.errorf("case %s's trail lacks %s: %v", id, a, actions)
			}
		}
	}
	for _, action := range []string{"bulk.start", "bulk.finished", "service_policy.set", "macro.put"} {
		var events struct {
			Events []struct{ Action string } `json:"events"`
		}
		d.must(carol, "GET", "/v1/audit/events?action="+action+"&limit=10", nil, &events, 200)
		if len(events.Events) != 1 {
			h.errorf("%d %s entries on the trail, want 1", len(events.Events), action)
		}
	}
	var v struct {
		OK bool `json:"ok"`
	}
	if d.must(carol, "GET", "/v1/audit/verify", nil, &v, 200); !v.OK {
		h.errorf("the audit chain does not verify")
	}
}

// day is one working day's clients of the harness's API processes.
type day struct {
	h      *harness
	client *http.Client
	n      int
	mu     sync.Mutex
}

func (d *day) token(sub, roles string) string {
	return strings.TrimSpace(d.h.tandem("token", "-tenant", demoTenant, "-sub", sub, "-roles", roles, "-ttl", "1h"))
}

// steppedUp enrols the person in TOTP, confirms, and steps up for every
// action class; it returns the stepped-up token.
func (d *day) steppedUp(tok string) string {
	var enrol struct {
		URL string `json:"otpauth_url"`
	}
	d.must(tok, "POST", "/v1/auth/totp/enrol", nil, &enrol, 201)
	key, err := otp.NewKeyFromURL(enrol.URL)
	if err != nil {
		d.h.t.Fatal(err)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(key.Secret(), at)
		if err != nil {
			d.h.t.Fatal(err)
		}
		return c
	}
	now := time.Now()
	d.must(tok, "POST", "/v1/auth/totp/confirm", api.TOTPCodeRequest{Code: code(now)}, nil, 200)
	var up api.StepUpToken
	d.must(tok, "POST", "/v1/auth/step-up", api.StepUpRequest{Code: code(now.Add(30 * time.Second)), For: api.StepUpClasses}, &up, 200)
	return up.Token
}

// call sends one request with its own Idempotency-Key, retried with that
// key on a connection error or a 503 (on the next API process), and
// decodes a JSON answer into out; it returns the status.
func (d *day) call(tok, method, path string, body, out any) int {
	d.h.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	d.mu.Lock()
	d.n++
	key, first := fmt.Sprintf("day-%d", d.n), d.n
	d.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(method, "http://"+d.h.addrs[(first+attempt)%len(d.h.addrs)]+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if method != "GET" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := d.client.Do(req)
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				if out != nil && len(data) > 0 {
					if err := json.Unmarshal(data, out); err != nil {
						d.h.fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
					}
				}
				if resp.StatusCode/100 != 2 && out == nil {
					d.h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
				}
				return resp.StatusCode
			}
		}
		if time.Now().After(deadline) {
			d.h.fatalf("%s %s: no answer in 2 minutes", method, path)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// must is call where anything but the status wanted ends the test.
func (d *day) must(tok, method, path string, body, out any, want int) {
	d.h.t.Helper()
	var raw json.RawMessage
	code := d.call(tok, method, path, body, &raw)
	if code != want {
		d.h.fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			d.h.fatalf("%s %s: %v", method, path, err)
		}
	}
}

// open opens a case through the front end's key; it returns its ID.
func (d *day) open(customer, message string) string {
	d.h.t.Helper()
	var ex struct {
		Case struct{ ID string } `json:"case"`
	}
	d.must(d.h.apiKey, "POST", "/v1/cases", map[string]string{"customer_ref": customer, "channel": "api", "message": message}, &ex, 201)
	return ex.Case.ID
}

// openMany opens n cases, 20 at a time, of as many customers.
func (d *day) openMany(n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 20 {
		wg.Go(func() {
			for i := range next {
				ids[i] = d.open(fmt.Sprintf("day-stale-%d", i), fmt.Sprintf("Order %d: is it on its way?", i))
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

func (d *day) staffCase(tok, id string) api.CaseJSON {
	var got struct{ Case api.CaseJSON }
	d.must(tok, "GET", "/v1/cases/"+id, nil, &got, 200)
	return got.Case
}

// countByCase runs a query of (case_id, count) rows for the demo tenant.
func (d *day) countByCase(query string) map[string]int {
	rows, err := d.h.store.DB().Raw(query, demoTenant).Rows()
	if err != nil {
		d.h.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			d.h.t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// export reads a case export, one NDJSON row a line.
func (d *day) export(tok, path string) []struct {
	ID          string `json:"id"`
	CloseReason string `json:"close_reason"`
} {
	req, _ := http.NewRequest("GET", "http://"+d.h.addrs[0]+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := d.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		d.h.fatalf("export: %v %v", err, resp)
	}
	defer resp.Body.Close()
	var rows []struct {
		ID          string `json:"id"`
		CloseReason string `json:"close_reason"`
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			ID          string `json:"id"`
			CloseReason string `json:"close_reason"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			d.h.fatalf("export row %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		d.h.fatalf("export: %v", err)
	}
	return rows
}
