package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

// Tags and custom fields: an admin defines the schema; the staff set values
// it types and lets them set; a listing filters by them; a case is resolved
// only with its required fields; text values, which may be personal, are
// sealed and die with the customer's key.
func TestCaseFields(t *testing.T) {
	s := newStack(t)
	admin, agent, sup := tenantA+"/admin", tenantA+"/agent:agent-1", tenantA+"/supervisor"
	for name, def := range map[string]api.CaseFieldRequest{
		"tier":          {Type: "enum", Options: []string{"gold", "silver"}, Required: true},
		"order_total":   {Type: "number"},
		"vip":           {Type: "boolean"},
		"promised_by":   {Type: "date"},
		"contact_notes": {Type: "text", Roles: []string{"supervisor"}},
	} {
		if r := s.do("PUT", "/v1/admin/case-fields/"+name, admin, def); r.Status != http.StatusCreated {
			t.Fatalf("define %s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := s.do("PUT", "/v1/admin/case-fields/tier", admin, api.CaseFieldRequest{Type: "enum", Options: []string{"gold", "silver", "bronze"}, Required: true}); r.Status != http.StatusOK {
		t.Fatalf("redefine tier: %d %s", r.Status, r.Body)
	}
	for _, bad := range []struct {
		name string
		def  api.CaseFieldRequest
		want int
	}{
		{"colour", api.CaseFieldRequest{Type: "colour"}, 422},
		{"size", api.CaseFieldRequest{Type: "enum"}, 422},
		{"size", api.CaseFieldRequest{Type: "number", Options: []string{"1"}}, 422},
		{"size", api.CaseFieldRequest{Type: "text", Roles: []string{"service"}}, 422},
		{"Bad-Name", api.CaseFieldRequest{Type: "text"}, 404},
	} {
		if r := s.do("PUT", "/v1/admin/case-fields/"+bad.name, admin, bad.def); r.Status != bad.want {
			t.Errorf("define %s %+v: %d %s, want %d", bad.name, bad.def, r.Status, r.Body, bad.want)
		}
	}
	var schema api.CaseFieldList
	s.do("GET", "/v1/admin/case-fields", agent, nil).decode(t, &schema)
	if len(schema.Fields) != 5 || schema.Fields[4].Name != "vip" {
		t.Fatalf("the schema as an agent reads it: %+v", schema.Fields)
	}

	ref := "cust-fields-" + randomHex(4)
	req := sampleCase()
	req.CustomerRef = ref
	c := s.openCase(tenantA, req).Case
	s.handTo(agent, c.ID)
	set := func(who string, body string) response { return s.do("POST", "/v1/cases/"+c.ID+"/fields", who, body) }
	r := set(agent, `{"add_tags":["vip-queue","parcel"],"fields":{"tier":"gold","order_total":120.50,"vip":true,"promised_by":"2026-12-24"}}`)
	if r.Status != http.StatusOK {
		t.Fatalf("set fields: %d %s", r.Status, r.Body)
	}
	var got struct{ Case api.CaseJSON }
	r.decode(t, &got)
	want := map[string]string{"tier": "gold", "order_total": "120.5", "vip": "true", "promised_by": "2026-12-24"}
	if !slices.Equal(got.Case.Tags, []string{"parcel", "vip-queue"}) || len(got.Case.Fields) != 4 || got.Case.Fields["order_total"] != "120.5" {
		t.Fatalf("after setting: tags %v, fields %v, want %v", got.Case.Tags, got.Case.Fields, want)
	}
	for _, bad := range []struct {
		who, body, field string
		want             int
	}{
		{agent, `{"fields":{"colour":"red"}}`, "fields.colour", 422},
		{agent, `{"fields":{"tier":"platinum"}}`, "fields.tier", 422},
		{agent, `{"fields":{"order_total":"lots"}}`, "fields.order_total", 422},
		{agent, `{"fields":{"promised_by":"24/12/2026"}}`, "fields.promised_by", 422},
		{agent, `{"add_tags":["Not A Tag"]}`, "add_tags", 422},
		{agent, `{"fields":{"contact_notes":"call after six"}}`, "", 403},
		{tenantA, `{"add_tags":["x"]}`, "", 403},
	} {
		r := set(bad.who, bad.body)
		if r.Status != bad.want || bad.field != "" && !strings.Contains(string(r.Body), `"field":"`+bad.field+`"`) {
			t.Errorf("%s %s: %d %s, want %d naming %s", bad.who, bad.body, r.Status, r.Body, bad.want, bad.field)
		}
	}
	if r := set(sup, `{"remove_tags":["parcel"],"fields":{"contact_notes":"Prefers calls after 6pm on 0612345678","vip":null}}`); r.Status != http.StatusOK {
		t.Fatalf("the supervisor's fields: %d %s", r.Status, r.Body)
	}

	// The staff see them; the customer's view does not.
	var staff api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, sup, nil).decode(t, &staff)
	if !slices.Equal(staff.Case.Tags, []string{"vip-queue"}) || staff.Case.Fields["contact_notes"] != "Prefers calls after 6pm on 0612345678" || staff.Case.Fields["vip"] != "" {
		t.Fatalf("the staff's view: tags %v, fields %v", staff.Case.Tags, staff.Case.Fields)
	}
	if body := string(s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).Body); strings.Contains(body, "vip-queue") || strings.Contains(body, "gold") {
		t.Fatalf("the customer's view shows tags or fields: %s", body)
	}

	// A listing filters by tag and by a field's value; not by a sealed one.
	listed := func(query string) []string {
		var l api.CaseList
		r := s.do("GET", "/v1/cases?limit=100&"+query, sup, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list ?%s: %d %s", query, r.Status, r.Body)
		}
		r.decode(t, &l)
		var ids []string
		for _, x := range l.Cases {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if ids := listed("tag=vip-queue&field.tier=gold&field.order_total=120.50"); !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("?tag=vip-queue&field.tier=gold: %v, want only %s", ids, c.ID)
	}
	if ids := listed("field.tier=silver"); slices.Contains(ids, c.ID) {
		t.Errorf("?field.tier=silver lists the gold case")
	}
	for _, q := range []string{"field.contact_notes=x", "field.nope=1", "field.tier=platinum", "tag=Bad%20Tag"} {
		if r := s.do("GET", "/v1/cases?"+q, sup, nil); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("?%s: %d %s, want 422", q, r.Status, r.Body)
		}
	}

	// Resolving needs the required tier: another case without it is refused.
	other := s.openCase(tenantA, sampleCase()).Case
	s.handTo(agent, other.ID)
	if r := s.do("POST", "/v1/cases/"+other.ID+"/resolve", agent, api.ResolveRequest{Code: "answered"}); r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != "fields_required" {
		t.Fatalf("resolve without tier: %d %s", r.Status, r.Body)
	}
	s.do("POST", "/v1/cases/"+other.ID+"/fields", agent, `{"fields":{"tier":"silver"}}`)
	if r := s.do("POST", "/v1/cases/"+other.ID+"/resolve", agent, api.ResolveRequest{Code: "answered"}); r.Status != http.StatusOK {
		t.Fatalf("resolve with tier: %d %s", r.Status, r.Body)
	}

	// The trail records each change, a value sealed; the row holds no text value in clear.
	events, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: c.ID, Action: workflows.AuditCaseFields, Limit: 10})
	if err != nil || len(events) != 2 {
		t.Fatalf("%d case.fields entries, want 2 (%v)", len(events), err)
	}
	var raw struct {
		Fields   string
		FieldsCT []byte
	}
	if err := s.store.DB().Raw(`SELECT fields::text AS fields, fields_ct FROM cases WHERE tenant_id = ? AND id = ?`, tenantA, c.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw.Fields, "6pm") || raw.FieldsCT == nil || strings.Contains(string(raw.FieldsCT), "6pm") {
		t.Fatalf("the row holds the text value in clear: %s", raw.Fields)
	}
	for _, e := range events {
		if strings.Contains(e.Details, "6pm") {
			t.Fatalf("the trail holds the text value in clear: %s", e.Details)
		}
	}

	s.recordHistory(other.WorkflowID, "fields_required_to_resolve")

	// Erasure leaves the text value unreadable; the codes stay.
	erase := api.EraseCustomerRequest{CustomerRef: ref, Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	var erased api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, sup, nil).decode(t, &erased)
	if _, ok := erased.Case.Fields["contact_notes"]; ok || erased.Case.Fields["tier"] != "gold" {
		t.Fatalf("after erasure: %v", erased.Case.Fields)
	}

	// Removing a field: once; another tenant's admin cannot.
	if r := s.do("DELETE", "/v1/admin/case-fields/vip", tenantB+"/admin", nil); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant's delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/case-fields/vip", admin, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/case-fields/vip", admin, nil); r.Status != http.StatusNotFound {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
}

// The pinned policy's rules route and prioritise by a field: a gold-tier
// case waiting in the general queue moves to vip and becomes urgent, its
// SLA deadline tightening; one marked gold while the AI has it goes to vip
// when it reaches people.
func TestRulesRouteByAField(t *testing.T) {
	s := newStack(t)
	admin, sup := tenantA+"/admin", tenantA+"/supervisor"
	p, _ := service.Profile("efficiency-first")
	p.Routing.Rules = []service.RoutingRule{{Field: "tier", Equals: "gold", Queue: "vip", Priority: "urgent"}}
	if r := s.do("PUT", "/v1/admin/service-policy", admin+"+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	bad := p
	bad.Routing.Rules = []service.RoutingRule{{Field: "tier", Equals: "gold"}}
	if r := s.do("PUT", "/v1/admin/service-policy", admin+"+totp", bad); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a rule that does nothing: %d %s", r.Status, r.Body)
	}
	if r := s.do("PUT", "/v1/admin/case-fields/tier", admin, api.CaseFieldRequest{Type: "enum", Options: []string{"gold", "silver"}}); r.Status != http.StatusCreated {
		t.Fatalf("define tier: %d %s", r.Status, r.Body)
	}

	waiting := s.openCase(tenantA, sampleCase()).Case
	s.escalate(tenantA, waiting.ID)
	before := s.staffCase(tenantA, waiting.ID)
	if before.Queue != "general" || before.Priority != "normal" || before.SLADueAt == nil {
		t.Fatalf("escalated: %+v", before)
	}
	var got struct{ Case api.CaseJSON }
	s.do("POST", "/v1/cases/"+waiting.ID+"/fields", sup, `{"fields":{"tier":"gold"}}`).decode(t, &got)
	if got.Case.Queue != "vip" || got.Case.Priority != "urgent" || got.Case.SLADueAt == nil || !got.Case.SLADueAt.Before(*before.SLADueAt) {
		t.Fatalf("after tier gold: queue %q, priority %q, SLA due %v (was %v)", got.Case.Queue, got.Case.Priority, got.Case.SLADueAt, before.SLADueAt)
	}
	if r := s.do("POST", "/v1/cases/"+waiting.ID+"/fields", sup, `{"fields":{"tier":"silver"}}`); r.Status != http.StatusOK {
		t.Fatalf("tier silver: %d %s", r.Status, r.Body)
	}
	if after := s.staffCase(tenantA, waiting.ID); after.Queue != "vip" || after.Priority != "urgent" {
		t.Fatalf("a rule no longer matching moved the case back: %+v", after)
	}
	s.recordHistory(waiting.WorkflowID, "rules_route_by_field")

	withAI := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+withAI.ID+"/fields", sup, `{"fields":{"tier":"gold"}}`).decode(t, &got)
	if got.Case.Status != "ai_handling" || got.Case.Priority != "urgent" {
		t.Fatalf("gold while the AI has it: %+v", got.Case)
	}
	s.escalate(tenantA, withAI.ID)
	if c := s.staffCase(tenantA, withAI.ID); c.Queue != "vip" {
		t.Fatalf("escalated gold case waits in %q, want vip", c.Queue)
	}
}

// Rules that act: on a case's channel and what the AI read, they tag it
// and set its fields, and a field a rule sets may route it by another.
func TestRulesTagAndSetFields(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin"
	for name, def := range map[string]api.CaseFieldRequest{
		"area":  {Type: "enum", Options: []string{"delivery", "billing"}},
		"score": {Type: "number"},
		"notes": {Type: "text"},
	} {
		if r := s.do("PUT", "/v1/admin/case-fields/"+name, admin, def); r.Status != http.StatusCreated {
			t.Fatalf("define %s: %d %s", name, r.Status, r.Body)
		}
	}
	p, _ := service.Profile("efficiency-first")
	for _, bad := range []struct {
		rule  service.RoutingRule
		field string
	}{
		{service.RoutingRule{Channel: "fax", AddTags: []string{"x"}}, "routing.rules[0].channel"},
		{service.RoutingRule{Channel: "email", SetFields: map[string]string{"nope": "x"}}, "routing.rules[0].set_fields.nope"},
		{service.RoutingRule{Channel: "email", SetFields: map[string]string{"notes": "x"}}, "routing.rules[0].set_fields.notes"},
		{service.RoutingRule{Channel: "email", SetFields: map[string]string{"area": "returns"}}, "routing.rules[0].set_fields.area"},
		{service.RoutingRule{AddTags: []string{"x"}}, "routing.rules[0]"},
		{service.RoutingRule{Intent: "delivery_status", AddTags: []string{"Not A Tag"}}, "routing.rules[0].add_tags"},
	} {
		q := p
		q.Routing.Rules = []service.RoutingRule{bad.rule}
		if r := s.do("PUT", "/v1/admin/service-policy", admin+"+totp", q); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), bad.field) {
			t.Errorf("rule %+v: %d %s, want 422 naming %s", bad.rule, r.Status, r.Body, bad.field)
		}
	}
	p.Routing.Rules = []service.RoutingRule{
		{Field: "area", Equals: "delivery", Queue: "logistics", Priority: "high"},
		{Channel: "email", AddTags: []string{"by-email"}, SetFields: map[string]string{"score": "7.50"}},
		{Intent: "delivery_status", AddTags: []string{"where-is-it"}, SetFields: map[string]string{"area": "delivery"}},
	}
	r := s.do("PUT", "/v1/admin/service-policy", admin+"+totp", p)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"score":"7.5"`) {
		t.Fatalf("set policy: %d %s (want the number in canonical form)", r.Status, r.Body)
	}
	staff := s.openStream(tenantA+"/supervisor", "")

	req := sampleCase()
	req.Channel = "email"
	c := s.openCase(tenantA, req).Case
	got := s.staffCase(tenantA, c.ID)
	if !slices.Equal(got.Tags, []string{"by-email", "where-is-it"}) || got.Fields["score"] != "7.5" || got.Fields["area"] != "delivery" || got.Priority != "high" {
		t.Fatalf("opened by email about a delivery: tags %v, fields %v, priority %q", got.Tags, got.Fields, got.Priority)
	}
	s.escalate(tenantA, c.ID)
	if got := s.staffCase(tenantA, c.ID); got.Queue != "logistics" {
		t.Fatalf("escalated to %q, want the rule's logistics", got.Queue)
	}
	if ev := staff.next(t, "case.fields_changed"); !strings.Contains(ev.Data, c.ID) || !strings.Contains(ev.Data, "where-is-it") {
		t.Fatalf("case.fields_changed = %s", ev.Data)
	}
	opened, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: c.ID, Action: workflows.AuditCaseOpen, Limit: 1})
	if err != nil || len(opened) != 1 || !strings.Contains(opened[0].Details, `"rule_tags":"by-email,where-is-it"`) || !strings.Contains(opened[0].Details, "area=delivery") {
		t.Fatalf("the trail's case.open: %+v (%v)", opened, err)
	}
	s.recordHistory(c.WorkflowID, "rules_tag_and_set_fields")

	// By web chat, about something else: no rule matches.
	other := sampleCase()
	other.Message = "Which payment methods do you accept?"
	c2 := s.openCase(tenantA, other).Case
	if got := s.staffCase(tenantA, c2.ID); len(got.Tags) != 0 || len(got.Fields) != 0 || got.Priority != "normal" {
		t.Fatalf("a case no rule matches: tags %v, fields %v, priority %q", got.Tags, got.Fields, got.Priority)
	}
}
