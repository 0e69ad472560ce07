package api_test

import (
	"context"
	"net/http"
	"testing"

	"tandem/activities/store"
	"tandem/api"
)

// A front end's key bound to a channel opens, reads and lists that
// channel's cases only; any key finds a returning customer's cases by their
// reference, through the blind index.
func TestKeysBoundToChannels(t *testing.T) {
	s := newStack(t)
	chat, _, err := s.store.CreateAPIKeyFor(context.Background(), store.APIKeySpec{TenantID: tenantA, Name: "web chat", Role: "service",
		Channels: []string{"web_chat"}, CreatedBy: "admin-1"})
	if err != nil {
		t.Fatal(err)
	}
	asChat := "raw:Bearer " + chat
	inApp := sampleCase()
	inApp.Channel = "app"
	if r := s.do("POST", "/v1/cases", asChat, inApp); r.Status != http.StatusForbidden || r.errorCode(t) != "channel_forbidden" {
		t.Fatalf("opening in another channel: %d %s", r.Status, r.Body)
	}
	appCase := s.openCase(tenantA, inApp).Case // by the tenant's unbound key
	var mine api.ExchangeJSON
	r := s.do("POST", "/v1/cases", asChat, sampleCase())
	r.decode(t, &mine)
	if r.Status != http.StatusCreated {
		t.Fatalf("opening in its channel: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/v1/cases/" + appCase.ID, "/v1/cases/" + appCase.ID + "/refunds"} {
		if r := s.do("GET", path, asChat, nil); r.Status != http.StatusNotFound {
			t.Fatalf("another channel's case %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/cases/"+appCase.ID+"/messages", asChat, api.PostMessageRequest{Body: "hi"}); r.Status != http.StatusNotFound {
		t.Fatalf("writing to another channel's case: %d", r.Status)
	}
	var list api.CaseList
	s.do("GET", "/v1/cases?limit=100", asChat, nil).decode(t, &list)
	if len(list.Cases) != 1 || list.Cases[0].ID != mine.Case.ID {
		t.Fatalf("the chat key lists %+v", list.Cases)
	}
	// A returning customer's cases, by their reference.
	other := sampleCase()
	other.CustomerRef = "cust-77"
	s.openCase(tenantA, other)
	s.do("GET", "/v1/cases?customer_ref=cust-42", tenantA, nil).decode(t, &list)
	if len(list.Cases) != 2 {
		t.Fatalf("cust-42's cases: %+v", list.Cases)
	}
	for _, c := range list.Cases {
		if c.CustomerRef != "cust-42" {
			t.Fatalf("listed another customer's case: %+v", c)
		}
	}
	s.do("GET", "/v1/cases?customer_ref=cust-42", tenantB, nil).decode(t, &list)
	if len(list.Cases) != 0 {
		t.Fatalf("another tenant finds cust-42's cases: %+v", list.Cases)
	}
}
