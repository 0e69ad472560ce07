package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"tandem/api"
)

func openFor(s *stack, tenant, customer, message string) api.CaseJSON {
	req := sampleCase()
	req.CustomerRef, req.Message = customer, message
	return s.openCase(tenant, req).Case
}

func TestPersonalDataIsEncryptedAtRest(t *testing.T) {
	s := newStack(t)
	c := openFor(s, tenantA, "cust-secret-ref", "my card number is in this sentence")
	var rows []struct {
		Body   *string
		BodyCT []byte
	}
	if err := s.store.DB().Raw("SELECT body, body_ct FROM messages WHERE case_id = ?", c.ID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d message rows", len(rows))
	}
	for _, r := range rows {
		if r.Body != nil || len(r.BodyCT) == 0 || strings.Contains(string(r.BodyCT), "card number") {
			t.Fatalf("message stored in clear: body=%v body_ct=%q", r.Body, r.BodyCT)
		}
	}
	var ref struct {
		CustomerRef   *string
		CustomerRefCT []byte
		Subject       *string
		SubjectCT     []byte
	}
	if err := s.store.DB().Raw("SELECT customer_ref, customer_ref_ct, subject, subject_ct FROM cases WHERE id = ?", c.ID).Scan(&ref).Error; err != nil {
		t.Fatal(err)
	}
	if ref.CustomerRef != nil || ref.Subject != nil || len(ref.SubjectCT) == 0 ||
		strings.Contains(string(ref.CustomerRefCT), "cust-secret-ref") || strings.Contains(string(ref.SubjectCT), "never arrived") {
		t.Fatalf("customer reference or subject stored in clear: %+v", ref)
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.CustomerRef != "cust-secret-ref" || got.Case.Subject != sampleCase().Subject || got.Messages[0].Body != "my card number is in this sentence" {
		t.Fatalf("read back: %+v", got)
	}
}

func TestEraseCustomerByCryptoShredding(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin+totp"
	gone1 := openFor(s, tenantA, "cust-erase", "first issue")
	gone2 := openFor(s, tenantA, "cust-erase", "second issue")
	kept := openFor(s, tenantA, "cust-keep", "unrelated")
	sameRefOtherTenant := openFor(s, tenantB, "cust-erase", "tenant B's customer")

	// A hold on one of the customer's cases blocks the erasure, and the refusal is audited.
	r := s.do("POST", "/v1/legal-holds", admin, api.PlaceHoldRequest{CaseID: gone2.ID, Reason: "litigation"})
	if r.Status != http.StatusCreated {
		t.Fatalf("place hold: %d %s", r.Status, r.Body)
	}
	var placed struct {
		LegalHold struct{ ID string } `json:"legal_hold"`
	}
	r.decode(t, &placed)
	erase := api.EraseCustomerRequest{CustomerRef: "cust-erase", Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", admin, erase); r.Status != http.StatusConflict || r.errorCode(t) != "legal_hold" {
		t.Fatalf("erase under hold: %d %s", r.Status, r.Body)
	}
	// A hold on the customer blocks it too.
	r = s.do("POST", "/v1/legal-holds", admin, api.PlaceHoldRequest{CustomerRef: "cust-erase", Reason: "regulatory_inquiry"})
	var placed2 struct {
		LegalHold struct{ ID string } `json:"legal_hold"`
	}
	r.decode(t, &placed2)
	for _, id := range []string{placed.LegalHold.ID, placed2.LegalHold.ID} {
		if r := s.do("DELETE", "/v1/legal-holds/"+id, tenantB+"/admin+totp", nil); r.Status != http.StatusNotFound {
			t.Fatalf("another tenant released a hold: %d", r.Status)
		}
	}
	s.do("DELETE", "/v1/legal-holds/"+placed.LegalHold.ID, admin, nil)
	if r := s.do("POST", "/v1/customers/erase", admin, erase); r.Status != http.StatusConflict {
		t.Fatalf("erase under a customer hold: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/legal-holds/"+placed2.LegalHold.ID, admin, nil); r.Status != http.StatusOK {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}

	r = s.do("POST", "/v1/customers/erase", admin, erase)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"keys_destroyed":1`) || !strings.Contains(string(r.Body), `"cases_closed":2`) {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	for _, c := range []api.CaseJSON{gone1, gone2} {
		// Erasure closed the open cases, with a reason code, and their
		// records moved on without a new key.
		got := s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.Status == "closed" })
		if !got.Case.Erased || got.Case.CustomerRef != "" || got.Case.Subject != "" || len(got.Messages) != 2 {
			t.Fatalf("erased case: %+v", got.Case)
		}
		for _, m := range got.Messages {
			if !m.Erased || m.Body != "" {
				t.Fatalf("erased message readable: %+v", m)
			}
		}
	}
	for who, c := range map[string]api.CaseJSON{tenantA: kept, tenantB: sameRefOtherTenant} {
		var got api.CaseWithMessages
		s.do("GET", "/v1/cases/"+c.ID, who, nil).decode(t, &got)
		if got.Case.Erased || got.Messages[0].Erased || got.Messages[0].Body == "" {
			t.Fatalf("%s's other case lost data: %+v", who, got)
		}
	}
	// The chain still verifies, and records the erasure without naming the customer.
	var v struct {
		OK bool `json:"ok"`
	}
	s.do("GET", "/v1/audit/verify", tenantA+"/compliance", nil).decode(t, &v)
	if !v.OK {
		t.Fatal("audit chain broken by the erasure")
	}
	trail := auditActions(t, s, storeFilter("customer.erase"))
	if strings.Join(trail, " ") != "user:customer.erase user:customer.erase user:customer.erase" {
		t.Fatalf("erasure audit entries: %v (two refusals, one success)", trail)
	}
	var raw string
	s.store.DB().Raw("SELECT string_agg(details || reason || object_id, ' ') FROM audit_events").Scan(&raw)
	if strings.Contains(raw, "cust-erase") {
		t.Fatal("the audit trail names the erased customer")
	}
	// Nor their blind index, whose key outlives the erasure.
	var index string
	s.store.DB().Raw("SELECT encode(customer_hash, 'hex') FROM cases WHERE id = ?", gone1.ID).Scan(&index)
	if index == "" || strings.Contains(raw, index) {
		t.Fatalf("the audit trail holds the erased customer's blind index (%q)", index)
	}

	// Erasing again destroys and closes nothing more. Nothing more is
	// written for the customer: no new case, no message to an old one, and
	// no new key that would make it readable.
	if r := s.do("POST", "/v1/customers/erase", admin, erase); !strings.Contains(string(r.Body), `"keys_destroyed":0,"cases_closed":0`) &&
		!strings.Contains(string(r.Body), `"cases_closed":0,"keys_destroyed":0`) {
		t.Fatalf("second erase: %s", r.Body)
	}
	back := sampleCase()
	back.CustomerRef, back.Message = "cust-erase", "I am back"
	if r := s.do("POST", "/v1/cases", tenantA, back); r.Status != http.StatusConflict || r.errorCode(t) != "customer_erased" {
		t.Fatalf("a case for an erased customer: %d %s", r.Status, r.Body)
	}
	for _, key := range []string{"", "k1"} {
		if r := s.do("POST", "/v1/cases/"+gone1.ID+"/messages", tenantA, api.PostMessageRequest{Body: "still me"}, "Idempotency-Key", key); r.Status != http.StatusConflict || r.errorCode(t) != "customer_erased" {
			t.Fatalf("a message to an erased customer's case: %d %s", r.Status, r.Body)
		}
	}
	var live int64
	s.store.DB().Raw(`SELECT count(*) FROM data_keys k JOIN cases c ON c.tenant_id = k.tenant_id AND c.customer_hash = k.customer_hash
		WHERE c.id = ? AND k.destroyed_at IS NULL`, gone1.ID).Scan(&live)
	if live != 0 {
		t.Fatalf("%d live keys for the erased customer", live)
	}
	var reasons string
	s.store.DB().Raw(`SELECT string_agg(reason, ',') FROM audit_events WHERE case_id IN (?, ?) AND action = 'case.close'`, gone1.ID, gone2.ID).Scan(&reasons)
	if reasons != api.CloseReasonErased+","+api.CloseReasonErased {
		t.Fatalf("close reasons on the trail: %q", reasons)
	}
	if _, err := s.store.ListHolds(context.Background(), tenantA); err != nil {
		t.Fatal(err)
	}
}

// The reasons the audit chain keeps for good are codes: free text, where a
// person could write a name, an address or a diagnosis, is refused before
// anything is recorded.
func TestAuditReasonsAreCodes(t *testing.T) {
	s := newStack(t)
	c := openFor(s, tenantA, "cust-reasons", "My order #1001 has not arrived yet.")
	admin := tenantA + "/admin+totp"
	for name, r := range map[string]response{
		"close":  s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "Ruth Example called, parcel found"}),
		"hold":   s.do("POST", "/v1/legal-holds", admin, api.PlaceHoldRequest{CaseID: c.ID, Reason: "Smith v Acme, 2026-17"}),
		"erase":  s.do("POST", "/v1/customers/erase", admin, api.EraseCustomerRequest{CustomerRef: "cust-reasons", Reason: "asked by phone, +44 20 7946 0000"}),
		"digits": s.do("POST", "/v1/legal-holds", admin, api.PlaceHoldRequest{CaseID: c.ID, Reason: "case_4711"}),
	} {
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"field":"reason"`) {
			t.Errorf("%s with free text: %d %s", name, r.Status, r.Body)
		}
	}
	var trail api.CaseTrail
	s.do("GET", "/v1/cases/"+c.ID+"/trail", tenantA+"/compliance", nil).decode(t, &trail)
	for _, e := range trail.Trail {
		if strings.Contains(e.Event.Reason, "Ruth") || strings.Contains(e.Event.Reason, "Smith") {
			t.Fatalf("free text reached the chain: %+v", e)
		}
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "parcel_found"}); r.Status != http.StatusOK {
		t.Fatalf("close with a code: %d %s", r.Status, r.Body)
	}
}

// The process that erases a customer forgets the destroyed key at once: a
// payload sealed under it no longer opens there, though its cache held the
// key a moment before.
func TestErasingProcessForgetsTheKey(t *testing.T) {
	s := newStack(t)
	c := openFor(s, tenantA, "cust-forget", "an issue")
	sealer := s.codec.WithSerializationContext(converter.WorkflowSerializationContext{Namespace: "default", WorkflowID: c.WorkflowID})
	plain, err := converter.GetDefaultDataConverter().ToPayloads("what the customer wrote")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Encode(plain.GetPayloads())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.codec.Decode(sealed); err != nil { // the key is in the cache now
		t.Fatal(err)
	}
	erase := api.EraseCustomerRequest{CustomerRef: "cust-forget", Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if _, err := s.codec.Decode(sealed); err == nil {
		t.Fatal("the erasing process still opens payloads with the destroyed key")
	}
}

// Erasure leaves nothing of the customer outside their destroyed key:
// refunds' evidence, the hash of their opening request, the keys their
// front end chose for messages are cleared; a retried opening is 409
// customer_erased.
func TestErasureClearsWhatNoKeySeals(t *testing.T) {
	s := newStack(t)
	ctx := t.Context()
	req := sampleCase()
	req.CustomerRef = "cust-traces"
	key := "open-" + randomHex(6)
	r := s.do("POST", "/v1/cases", tenantA, req, "Idempotency-Key", key)
	if r.Status != http.StatusCreated {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	var ex api.ExchangeJSON
	r.decode(t, &ex)
	if r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(1)}, "Idempotency-Key", "jane-doe-msg-1"); r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	if err := s.store.PutOrder(ctx, tenantA, "7001", "cust-traces", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	body := refundBody("7001", "20.00")
	refund := map[string]any{"order_ref": body["order_ref"], "amount": body["amount"], "currency": body["currency"], "reason_code": body["reason_code"],
		"evidence": []string{"https://photos.example/jane-doe-broken-lamp.jpg"}}
	code, asked := s.askRefund(ex.Case.ID, tenantA, refund, "refund-traces")
	if code >= 300 {
		t.Fatalf("refund: %d", code)
	}
	s.waitRefund(asked.RefundID, tenantA, final) // its saga done: the erasure is not raced
	erase := api.EraseCustomerRequest{CustomerRef: "cust-traces", Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	var left struct{ Evidence, Hashes, ClientKeys, UpdateKeys int }
	if err := s.store.DB().Raw(`SELECT
			(SELECT count(*) FROM refunds WHERE case_id = ? AND evidence <> '[]'::jsonb) AS evidence,
			(SELECT count(*) FROM idempotency_keys WHERE case_id = ? AND request_hash <> 'erased') AS hashes,
			(SELECT count(*) FROM messages WHERE case_id = ? AND client_key IS NOT NULL) AS client_keys,
			(SELECT count(*) FROM update_keys WHERE case_id = ?) AS update_keys`, ex.Case.ID, ex.Case.ID, ex.Case.ID, ex.Case.ID).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if left != (struct{ Evidence, Hashes, ClientKeys, UpdateKeys int }{}) {
		t.Fatalf("left after erasure: %+v", left)
	}
	if r := s.do("POST", "/v1/cases", tenantA, req, "Idempotency-Key", key); r.Status != http.StatusConflict || r.errorCode(t) != "customer_erased" {
		t.Fatalf("a retried opening after erasure: %d %s", r.Status, r.Body)
	}
}
