package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
)

// A staff note: the agent's colleagues and the trail see it, the customer's
// view, its events and the AI's context never do; @mentions notify
// the agent named; a keyed retry records it once; erasure takes it with the
// customer's messages.
func TestStaffNotes(t *testing.T) {
	s := newStack(t)
	agent1, agent2 := tenantA+"/agent:agent-1", tenantA+"/agent:agent-2"
	ref := "cust-notes-" + randomHex(4)
	req := sampleCase()
	req.CustomerRef = ref
	c := s.openCase(tenantA, req).Case
	s.handTo(agent1, c.ID)
	if r := s.do("PUT", "/v1/agents/agent-2/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
		t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	staff := s.openStream(tenantA+"/supervisor", "")

	const text = "Courier confirmed the parcel was left at the depot; @agent-2 please call them."
	key := "note-" + randomHex(8)
	r := s.do("POST", "/v1/cases/"+c.ID+"/notes", agent1, api.PostMessageRequest{Body: text}, "Idempotency-Key", key)
	if r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	var note api.NoteJSON
	r.decode(t, &note)
	if !note.Note.Internal || note.Note.Body != text || !slices.Equal(note.Note.Mentions, []string{"agent-2"}) || note.Case.Status != "assigned" {
		t.Fatalf("note = %+v", note)
	}
	var again api.NoteJSON
	s.do("POST", "/v1/cases/"+c.ID+"/notes", agent1, api.PostMessageRequest{Body: text}, "Idempotency-Key", key).decode(t, &again)
	if again.Note.Seq != note.Note.Seq {
		t.Fatalf("a retried note got seq %d, the first %d", again.Note.Seq, note.Note.Seq)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/notes", agent1, api.PostMessageRequest{Body: "ask @nobody-here"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a mention of no agent: %d %s, want 422", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/notes", tenantA, api.PostMessageRequest{Body: "from the front end"}); r.Status != http.StatusForbidden {
		t.Fatalf("a front end's note: %d %s, want 403", r.Status, r.Body)
	}

	// The staff read it in its place, once; the customer's view has no trace of it.
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, agent1, nil).decode(t, &got)
	notes := 0
	for _, m := range got.Messages {
		if m.Internal && m.Body == text {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("the staff's view holds the note %d times: %+v", notes, got.Messages)
	}
	if body := string(s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).Body); strings.Contains(body, "depot") || strings.Contains(body, "internal") {
		t.Fatalf("the customer's view shows the note: %s", body)
	}
	if body := string(s.do("GET", "/v1/cases/"+c.ID+"/handoff", agent1, nil).Body); strings.Contains(body, "depot") {
		t.Fatalf("the handoff, which suggests replies to the customer, read the note: %s", body)
	}

	// agent-2 is told; agent-1 is not.
	var mentioned, other api.NotificationList
	s.do("GET", "/v1/notifications", agent2, nil).decode(t, &mentioned)
	s.do("GET", "/v1/notifications", agent1, nil).decode(t, &other)
	if !slices.ContainsFunc(mentioned.Notifications, func(n store.Notification) bool { return n.CaseID == c.ID && n.Kind == "case.mentioned" }) {
		t.Fatalf("agent-2's notifications: %+v", mentioned.Notifications)
	}
	if slices.ContainsFunc(other.Notifications, func(n store.Notification) bool { return n.CaseID == c.ID && n.Kind == "case.mentioned" }) {
		t.Fatalf("agent-1 was told of a mention of agent-2: %+v", other.Notifications)
	}

	// The staff's stream names the note and whom it mentions, never its
	// text (the stream is the staff's; a webhook endpoint gets the event
	// only if it names note.created).
	ev := staff.next(t, "note.created")
	if !strings.Contains(ev.Data, c.ID) || !strings.Contains(ev.Data, "agent-2") || strings.Contains(ev.Data, "depot") {
		t.Fatalf("note.created = %s", ev.Data)
	}

	// The trail records it, once, with its text, marked internal.
	var trail api.CaseTrail
	s.do("GET", "/v1/cases/"+c.ID+"/trail", tenantA+"/compliance", nil).decode(t, &trail)
	n := 0
	for _, e := range trail.Trail {
		if e.Event.Action == "case.note" {
			n++
			if e.Message == nil || !e.Message.Internal || e.Message.Body != text {
				t.Errorf("the trail's note: %+v", e.Message)
			}
		}
	}
	if n != 1 {
		t.Fatalf("the trail holds %d case.note entries, want 1", n)
	}

	s.recordHistory(c.WorkflowID, "staff_note")

	// Erasing the customer takes the note's text with their messages.
	erase := api.EraseCustomerRequest{CustomerRef: ref, Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &got)
	for _, m := range got.Messages {
		if m.Internal && (m.Body != "" || !m.Erased) {
			t.Fatalf("the note survived erasure: %+v", m)
		}
	}
}

// Where the tenant's policy says so, the staff's notes are the AI's
// context (the LLM engine's instructions); by default they reach no AI.
func TestNotesInTheAIsContext(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	p, _ := service.Profile("efficiency-first")
	p.AI.Engine = "llm"
	const note = "Gold customer: the express courier applies to their orders."
	ask := func(policy service.Policy) string {
		t.Helper()
		if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", policy); r.Status != http.StatusOK {
			t.Fatalf("set policy: %d %s", r.Status, r.Body)
		}
		c := s.openCase(tenantA, sampleCase()).Case
		if r := s.do("POST", "/v1/cases/"+c.ID+"/notes", sup, api.PostMessageRequest{Body: note}); r.Status != http.StatusCreated {
			t.Fatalf("note: %d %s", r.Status, r.Body)
		}
		msg := "Where is my order now? " + randomHex(4)
		r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: msg})
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), "express courier") {
			t.Fatalf("message: %d %s", r.Status, r.Body)
		}
		prompt, ok := llmPrompts.Load(msg)
		if !ok {
			t.Fatalf("the LLM was not asked about %q: %s", msg, r.Body)
		}
		if policy.AI.NotesInContext {
			s.recordHistory(c.WorkflowID, "notes_in_ai_context")
		}
		return prompt.(string)
	}
	if prompt := ask(p); strings.Contains(prompt, "express courier") {
		t.Fatalf("a note reached the AI by default:\n%s", prompt)
	}
	p.AI.NotesInContext = true
	if prompt := ask(p); !strings.Contains(prompt, note) {
		t.Fatalf("the AI's instructions lack the note:\n%s", prompt)
	}
}
