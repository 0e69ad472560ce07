package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

// A macro: an admin's reply template with variables and actions, applied
// by the case's owner as one step (the reply, tags and fields, then the
// status), once per key, counted, in the asked language; an agent's own
// macros are theirs alone.
func TestMacros(t *testing.T) {
	s := newStack(t)
	admin, agent1, agent2 := tenantA+"/admin", tenantA+"/agent:agent-1", tenantA+"/agent:agent-2"
	for name, def := range map[string]api.CaseFieldRequest{
		"tier":  {Type: "enum", Options: []string{"gold", "silver"}, Required: true},
		"order": {Type: "text"},
	} {
		if r := s.do("PUT", "/v1/admin/case-fields/"+name, admin, def); r.Status != http.StatusCreated {
			t.Fatalf("define %s: %d %s", name, r.Status, r.Body)
		}
	}
	ask := api.MacroRequest{Name: "Parcel: ask for a photo", Replies: map[string]string{
		"en":      "Hello {{customer.ref}}, about order {{field.order}}: could you send a photo of the parcel? — {{agent.id}}",
		"zh-Hans": "您好 {{customer.ref}}，关于订单 {{field.order}}：请发送包裹的照片。",
	}, Actions: store.MacroActions{AddTags: []string{"parcel"}, Fields: map[string]json.RawMessage{"tier": json.RawMessage(`"gold"`)}, Then: workflows.MacroRequestInfo}}
	var created api.MacroBody
	r := s.do("POST", "/v1/macros", admin, ask)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r.decode(t, &created)
	for _, bad := range []struct {
		who  string
		req  api.MacroRequest
		want int
	}{
		{admin, api.MacroRequest{Name: "x", Replies: map[string]string{"en": "Hi {{customer.name}}"}, Actions: store.MacroActions{Then: "reply"}}, 422},
		{admin, api.MacroRequest{Name: "x", Actions: store.MacroActions{Then: "reply"}}, 422},
		{admin, api.MacroRequest{Name: "x", Actions: store.MacroActions{Then: "resolve", Code: "whatever"}}, 422},
		{admin, api.MacroRequest{Name: "x", Replies: map[string]string{"fr": "Bonjour"}, Actions: store.MacroActions{Then: "reply"}}, 422},
		{admin, api.MacroRequest{Name: "x", Actions: store.MacroActions{Then: "resolve", Code: "answered", Fields: map[string]json.RawMessage{"colour": json.RawMessage(`"red"`)}}}, 422},
		{admin, ask, 409},
		{agent1, api.MacroRequest{Name: "tenant-wide", Replies: map[string]string{"en": "Hi"}, Actions: store.MacroActions{Then: "reply"}}, 403},
	} {
		if r := s.do("POST", "/v1/macros", bad.who, bad.req); r.Status != bad.want {
			t.Errorf("%s creates %+v: %d %s, want %d", bad.who, bad.req, r.Status, r.Body, bad.want)
		}
	}
	var mine api.MacroBody
	r = s.do("POST", "/v1/macros", agent1, api.MacroRequest{Name: "Done", Personal: true,
		Actions: store.MacroActions{Then: workflows.MacroResolve, Code: "answered"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("a personal macro: %d %s", r.Status, r.Body)
	}
	r.decode(t, &mine)
	var listed api.MacroList
	s.do("GET", "/v1/macros", agent2, nil).decode(t, &listed)
	if len(listed.Macros) != 1 || listed.Macros[0].ID != created.Macro.ID {
		t.Fatalf("agent-2 lists %+v, want only the tenant's macro", listed.Macros)
	}

	ref := "cust-macro-" + randomHex(4)
	req := sampleCase()
	req.CustomerRef = ref
	c := s.openCase(tenantA, req).Case
	s.handTo(agent1, c.ID)
	apply := func(who, id, lang, key string) response {
		return s.do("POST", "/v1/cases/"+c.ID+"/macros/"+id, who, api.ApplyMacroRequest{Language: lang}, "Idempotency-Key", key)
	}
	if r := apply(agent1, created.Macro.ID, "", "m-"+randomHex(6)); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "fields.order") {
		t.Fatalf("a macro whose variable the case lacks: %d %s", r.Status, r.Body)
	}
	s.do("POST", "/v1/cases/"+c.ID+"/fields", agent1, `{"fields":{"order":"A-1001"}}`)
	key := "m-" + randomHex(6)
	r = apply(agent1, created.Macro.ID, "", key)
	if r.Status != http.StatusOK {
		t.Fatalf("apply: %d %s", r.Status, r.Body)
	}
	var got api.AppliedMacro
	r.decode(t, &got)
	wantBody := "Hello " + ref + ", about order A-1001: could you send a photo of the parcel? — agent-1"
	if got.Message == nil || got.Message.Body != wantBody || got.Case.Status != "waiting_on_customer" ||
		!slices.Contains(got.Case.Tags, "parcel") || got.Case.Fields["tier"] != "gold" {
		t.Fatalf("applied: %+v, message %+v", got.Case, got.Message)
	}
	var again api.AppliedMacro
	apply(agent1, created.Macro.ID, "", key).decode(t, &again)
	if again.Message == nil || again.Message.Seq != got.Message.Seq {
		t.Fatalf("a retried application: %+v, first %+v", again.Message, got.Message)
	}
	if r := apply(agent2, created.Macro.ID, "", "m-"+randomHex(6)); r.Status != http.StatusNotFound {
		t.Fatalf("another agent applies to agent-1's case: %d %s", r.Status, r.Body)
	}
	if r := apply(agent1, created.Macro.ID, "fr", "m-"+randomHex(6)); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a language the macro lacks: %d %s", r.Status, r.Body)
	}
	var zh api.AppliedMacro
	s.do("POST", "/v1/cases/"+c.ID+"/reply", agent1, api.AgentMessageRequest{Body: "Thanks."})
	apply(agent1, created.Macro.ID, "zh-Hans", "m-"+randomHex(6)).decode(t, &zh)
	if zh.Message == nil || !strings.HasPrefix(zh.Message.Body, "您好 "+ref) {
		t.Fatalf("in zh-Hans: %+v", zh.Message)
	}
	var after api.MacroList
	s.do("GET", "/v1/macros", agent1, nil).decode(t, &after)
	listed = after
	if i := slices.IndexFunc(listed.Macros, func(m store.Macro) bool { return m.ID == created.Macro.ID }); i < 0 || listed.Macros[i].Uses != 2 {
		t.Fatalf("the macro's uses: %+v, want 2", listed.Macros)
	}

	// The personal macro resolves; the required tier is set.
	if r := apply(agent1, mine.Macro.ID, "", "m-"+randomHex(6)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":"resolved"`) {
		t.Fatalf("resolve by macro: %d %s", r.Status, r.Body)
	}
	macros, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: c.ID, Action: workflows.AuditCaseMacro, Limit: 10})
	if err != nil || len(macros) != 3 {
		t.Fatalf("%d case.macro entries, want 3 (%v)", len(macros), err)
	}
	s.recordHistory(c.WorkflowID, "macros")

	// Another agent cannot change or remove agent-1's macro; agent-1 can.
	if r := s.do("DELETE", "/v1/macros/"+mine.Macro.ID+"?personal=true", agent2, nil); r.Status != http.StatusNotFound {
		t.Fatalf("agent-2 deletes agent-1's macro: %d %s", r.Status, r.Body)
	}
	if r := s.do("PUT", "/v1/macros/"+mine.Macro.ID, agent2, api.MacroRequest{Name: "Mine now", Personal: true,
		Actions: store.MacroActions{Then: "resolve", Code: "other"}}); r.Status != http.StatusNotFound {
		t.Fatalf("agent-2 changes agent-1's macro: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/macros/"+mine.Macro.ID+"?personal=true", agent1, nil); r.Status != http.StatusNoContent {
		t.Fatalf("agent-1 deletes their macro: %d %s", r.Status, r.Body)
	}
}
