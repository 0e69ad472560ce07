package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
)

// The live stream sends a console the events it may see, as they happen: a
// supervisor the tenant's, an agent those of cases in their queues or
// theirs, another tenant nothing; and a console that reconnects with
// Last-Event-ID gets what it missed.
func TestEventStream(t *testing.T) {
	s := newStack(t)
	if r := s.do("PUT", "/v1/agents/agent-1/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
		t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	sup := s.openStream(tenantA+"/supervisor", "")
	agent := s.openStream(tenantA+"/agent", "")
	other := s.openStream(tenantB+"/supervisor", "")
	if sup.Status != http.StatusOK || sup.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", sup.Status, sup.Header)
	}
	if r := s.openStream(tenantA, ""); r.Status != http.StatusForbidden {
		t.Fatalf("a front end's key on the staff stream: %d", r.Status)
	}

	ex := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-sse", Channel: "web_chat", Message: inScope(0)})
	opened := sup.next(t, "case.opened")
	var payload struct {
		ID, Type string
		CaseID   string `json:"case_id"`
	}
	if err := json.Unmarshal([]byte(opened.Data), &payload); err != nil || payload.CaseID != ex.Case.ID || opened.ID == "" {
		t.Fatalf("case.opened on the stream: %+v %v", opened, err)
	}
	reply := sup.next(t, "message.created")

	// Escalated to the general queue, the case is the agent's to see.
	if r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: "agent please"}); r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	esc := agent.next(t, "case.escalated")
	if err := json.Unmarshal([]byte(esc.Data), &payload); err != nil || payload.CaseID != ex.Case.ID {
		t.Fatalf("the agent's stream: %+v", esc)
	}
	sup.next(t, "case.escalated")

	// A case the AI answers (nowhere near the agent's queues) is the supervisor's only.
	quiet := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-sse2", Channel: "web_chat", Message: inScope(2)}).Case.ID
	for {
		ev := sup.next(t, "case.opened")
		if json.Unmarshal([]byte(ev.Data), &payload) == nil && payload.CaseID == quiet {
			break
		}
	}
	select {
	case ev := <-agent.events:
		if json.Unmarshal([]byte(ev.Data), &payload) == nil && payload.CaseID == quiet {
			t.Fatalf("the agent saw a case outside their queues: %+v", ev)
		}
	case <-time.After(500 * time.Millisecond):
	}
	select {
	case ev := <-other.events:
		t.Fatalf("another tenant's stream got %+v", ev)
	default:
	}

	// Reconnecting after the AI's reply replays what followed it.
	again := s.openStream(tenantA+"/supervisor", reply.ID)
	if ev := again.next(t); ev.Type != "case.escalated" && ev.Type != "message.created" {
		t.Fatalf("after Last-Event-ID %s came %+v", reply.ID, ev)
	}
	if r := s.openStream(tenantA+"/supervisor", "not-a-position"); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad Last-Event-ID: %d", r.Status)
	}
}

// A stream is held to its credential while it lasts: revoking the token
// ends it within seconds (it sends credential_ended), one credential opens
// at most five at once, and opening one is on the trail like a case read.
func TestEventStreamHeldToItsCredential(t *testing.T) {
	s := newStack(t)
	tok, err := api.MintToken(tokens, tenantA, "sup-stream", []string{"supervisor"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	who := "raw:Bearer " + tok
	var streams []*stream
	for i := range 5 {
		st := s.openStream(who, "")
		if st.Status != http.StatusOK {
			t.Fatalf("stream %d: %d %s", i, st.Status, st.Body)
		}
		streams = append(streams, st)
	}
	if sixth := s.openStream(who, ""); sixth.Status != http.StatusTooManyRequests || sixth.errorCode(t) != "too_many_streams" {
		t.Fatalf("a sixth stream: %d %s", sixth.Status, sixth.Body)
	}
	streams[4].cancel()
	time.Sleep(300 * time.Millisecond) // the server notices the closed connection
	if again := s.openStream(who, ""); again.Status != http.StatusOK {
		t.Fatalf("a stream after one closed: %d %s", again.Status, again.Body)
	}
	reads, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{Action: "events.stream", ActorID: "sup-stream", Limit: 10})
	if err != nil || len(reads) != 6 {
		t.Fatalf("%d stream reads on the trail, want 6 (%v)", len(reads), err)
	}
	if err := s.store.RevokeSubject(t.Context(), tenantA, "sup-stream", "test", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ended := streams[0].next(t, "credential_ended"); ended.Type != "credential_ended" {
		t.Fatalf("after the revocation: %+v", ended)
	}
}
