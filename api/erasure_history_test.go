package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"tandem/api"
	"tandem/workflows"
	"tandem/workflows/codec"
)

// Erasure leaves nothing of the customer readable: every run of their case
// (it continued as new) and of its refund saga is deleted from Temporal;
// what those histories held — read raw, before the deletion, as a backup of
// Temporal's database would hold it — was sealed under the customer's data
// key, which no longer opens with any key that remains; and a raw read of
// every table of the PostgreSQL database finds none of their words, their
// reference, their order number or what the AI read of their mood. Before
// the erasure the test reads all of it, so it would see it if it were still
// there.
func TestErasureLeavesNothingReadable(t *testing.T) {
	t.Parallel() // most of it is waiting for Temporal's deletions
	s := newStackWith(t, 40)
	ctx := context.Background()
	const (
		customer = "cust-history-ruth"
		secret   = "my neighbour Ruth Example signed for it"
		subject  = "Parcel for Ruth Example"
		order    = "ORD-77123-RUTH"
		medical  = "the side effects of my new medication kept me in bed"
	)
	req := sampleCase()
	req.CustomerRef, req.Subject, req.Message = customer, subject, secret+"; "+medical
	c := s.openCase(tenantA, req).Case
	for i := range 8 {
		if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	if err := s.store.PutOrder(ctx, tenantA, order, customer, "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody(order, "10.00"), "r")
	s.waitRefund(asked.RefundID, tenantA, final)
	secrets := []string{customer, secret, subject, order, "medication"}

	runs := map[string][]string{}
	for _, id := range []string{c.WorkflowID, workflows.RefundWorkflowID(tenantA, asked.RefundID)} {
		want := int64(1)
		if id == c.WorkflowID {
			want = 2
		}
		if n := countRunsAtLeast(t, s.temporal, id, want); n < want {
			t.Fatalf("%s: %d runs, want %d", id, n, want)
		}
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", id)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			runs[id] = append(runs[id], e.GetExecution().GetRunId())
		}
	}
	first := runs[c.WorkflowID][len(runs[c.WorkflowID])-1] // listed newest first
	if !strings.Contains(runInputs(t, s, c.WorkflowID, first), secret) {
		t.Fatal("the first run's history does not hold the customer's words: the test would prove nothing")
	}
	// Every payload of every run, raw, as Temporal's database holds it.
	var payloads []*commonpb.Payload
	for id, ids := range runs {
		for _, run := range ids {
			payloads = append(payloads, rawPayloads(t, s, id, run)...)
		}
	}
	personal := payloadsHolding(t, s.codec, payloads, secrets)
	for _, want := range secrets[:4] {
		if personal[want] == 0 {
			t.Fatalf("no payload holds %q before the erasure: the test would prove nothing", want)
		}
	}
	// The timeline shows a supervisor what the AI read of the customer's
	// mood and the sensitive topic; the chain holds them sealed.
	if tl := s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil); tl.Status != http.StatusOK ||
		!strings.Contains(string(tl.Body), `"sensitive_topic":"medical"`) || !strings.Contains(string(tl.Body), `"negativity":"0.`) {
		t.Fatalf("timeline before erasure: %d %s", tl.Status, tl.Body)
	}
	if found := tablesHolding(t, s, []string{`"negativity": "0.`, `"sensitive_topic": "medical"`, `"order_ref": "` + order}); len(found) > 0 {
		t.Fatalf("the audit chain holds personal details in clear: %v", found)
	}
	if found := tablesHolding(t, s, []string{order}); len(found) == 0 {
		t.Fatal("the order number is nowhere in the database before the erasure: the test would prove nothing")
	}

	r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: customer, Reason: "customer_request"})
	var out struct {
		Deleted int `json:"workflow_runs_deleted"`
		Running int `json:"workflow_runs_running"`
	}
	r.decode(t, &out)
	total := len(runs[c.WorkflowID]) + len(runs[workflows.RefundWorkflowID(tenantA, asked.RefundID)])
	if r.Status != http.StatusOK || out.Deleted != total || out.Running != 0 {
		t.Fatalf("erase: %d %s, want %d runs deleted", r.Status, r.Body, total)
	}
	// With every key that remains — the payload key, and the database's
	// data keys through a codec that has cached nothing — no payload that
	// held something of the customer opens.
	fresh, err := codec.New(s.store, testPayloadKey)
	if err != nil {
		t.Fatal(err)
	}
	if after := payloadsHolding(t, fresh, payloads, secrets); len(after) > 0 {
		t.Fatalf("after erasure these still read: %v", after)
	}
	if found := tablesHolding(t, s, secrets); len(found) > 0 {
		t.Fatalf("after erasure the database holds in clear: %v", found)
	}
	if tl := s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil); tl.Status != http.StatusOK ||
		!strings.Contains(string(tl.Body), `"sensitive_topic":"withheld"`) || !strings.Contains(string(tl.Body), `"negativity":"withheld"`) {
		t.Fatalf("timeline after erasure: %d %s", tl.Status, tl.Body)
	}
	// Temporal deletes in the background (within half a minute on the dev
	// server): every run's history goes.
	for id, ids := range runs {
		for _, run := range ids {
			deadline := time.Now().Add(3 * time.Minute)
			for {
				_, err := s.temporal.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT).Next()
				var notFound *serviceerror.NotFound
				if errors.As(err, &notFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s run %s (of %v) still readable after erasure (%v)", id, run, ids, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	// The case's record stays, erased.
	got := s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.Status == "closed" })
	if !got.Case.Erased {
		t.Fatalf("case after erasure: %+v", got.Case)
	}
}

// runInputs is what a run was given, its start and its updates, as the
// payload key reads it.
func runInputs(t *testing.T, s *stack, workflowID, runID string) string {
	t.Helper()
	var b strings.Builder
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		payloads := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
		payloads = append(payloads, ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetArgs().GetPayloads()...)
		for _, p := range payloads {
			b.WriteString(s.codec.DataConverter().ToString(p))
		}
	}
	return b.String()
}

// rawPayloads is every payload of a run's history as Temporal stores it,
// read without a codec.
func rawPayloads(t *testing.T, s *stack, workflowID, runID string) []*commonpb.Payload {
	t.Helper()
	raw, err := client.Dial(client.Options{HostPort: s.temporalAddr, Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var hist historypb.History
	it := raw.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	var out []*commonpb.Payload
	err = proxy.VisitPayloads(context.Background(), &hist, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			out = append(out, ps...)
			return ps, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s run %s: no payloads", workflowID, runID)
	}
	return out
}

// payloadsHolding counts, for each of wanted, the payloads that hold it in
// clear or that pc opens to a text holding it.
func payloadsHolding(t *testing.T, pc *codec.Codec, payloads []*commonpb.Payload, wanted []string) map[string]int {
	t.Helper()
	found := map[string]int{}
	for _, p := range payloads {
		raw, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if open, err := pc.Decode([]*commonpb.Payload{p}); err == nil {
			text += pc.DataConverter().ToString(open[0]) + string(open[0].GetData())
		}
		for _, w := range wanted {
			if strings.Contains(text, w) {
				found[w]++
			}
		}
	}
	return found
}

// tablesHolding reads every row of every table of the stack's database as
// text and says which tables hold any of wanted, and what.
func tablesHolding(t *testing.T, s *stack, wanted []string) []string {
	t.Helper()
	var tables []string
	if err := s.store.DB().Raw(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version' ORDER BY 1`).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, tbl := range tables {
		var rows []string
		if err := s.store.DB().Raw(`SELECT t::text FROM public.` + tbl + ` t`).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			for _, w := range wanted {
				if strings.Contains(row, w) || strings.Contains(row, strings.ReplaceAll(w, `": "`, `":"`)) {
					found = append(found, tbl+": "+w)
				}
			}
		}
	}
	return found
}

// A refund still waiting for a person when its customer is erased can never
// read its history again: the erasure ends it (terminated, then deleted)
// rather than leaving a saga no worker can run.
func TestErasureEndsAWaitingRefund(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := openFor(s, tenantA, "cust-waiting", "My order #1001 has not arrived yet.")
	if err := s.store.PutOrder(ctx, tenantA, "W-1001", "cust-waiting", "EUR", "2000.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, big := s.askRefund(c.ID, tenantA, refundBody("W-1001", "120.00"), "big")
	s.waitRefund(big.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })

	r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: "cust-waiting", Reason: "customer_request"})
	var out struct {
		Closed  int `json:"cases_closed"`
		Deleted int `json:"workflow_runs_deleted"`
		Running int `json:"workflow_runs_running"`
	}
	r.decode(t, &out)
	if r.Status != http.StatusOK || out.Closed != 1 || out.Deleted != 2 || out.Running != 0 {
		t.Fatalf("erase: %d %s, want the case closed and both workflows' runs deleted", r.Status, r.Body)
	}
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflows.RefundWorkflowID(tenantA, big.RefundID), "")
	var notFound *serviceerror.NotFound
	if err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED || err != nil && !errors.As(err, &notFound) {
		t.Fatalf("the waiting saga after erasure: %v %v", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
}
