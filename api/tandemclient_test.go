package api_test

import (
	"context"
	"net/http"
	"testing"

	"tandem/api/tandemclient"
)

// A client generated from the contract by oapi-codegen (api/tandemclient)
// drives the walkthrough's first part against the real stack: open a case,
// post a message, read the case; every answer decodes into its generated
// type.
func TestGeneratedClientDrivesTheWalkthrough(t *testing.T) {
	s := newStack(t)
	auth := s.cred(tenantA)
	c, err := tandemclient.NewClientWithResponses(s.url, tandemclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", auth)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	key := "walkthrough-open-" + randomHex(6) // Temporal outlives the test's database: a key of its own
	opened, err := c.PostCasesWithResponse(ctx, &tandemclient.PostCasesParams{IdempotencyKey: &key}, tandemclient.PostCasesJSONRequestBody{
		CustomerRef: "cust-42", Channel: "web_chat", Subject: "Order never arrived", Priority: "normal", Message: inScope(0)})
	if err != nil {
		t.Fatal(err)
	}
	if opened.JSON201 == nil {
		t.Fatalf("open: %d %s", opened.StatusCode(), opened.Body)
	}
	id := opened.JSON201.Case.Id
	if id == "" || opened.JSON201.Message.Seq != 1 || opened.JSON201.Reply == nil {
		t.Fatalf("opened = %+v", *opened.JSON201)
	}

	posted, err := c.PostCasesIdMessagesWithResponse(ctx, id, &tandemclient.PostCasesIdMessagesParams{},
		tandemclient.PostCasesIdMessagesJSONRequestBody{Body: inScope(1)})
	if err != nil {
		t.Fatal(err)
	}
	if posted.JSON200 == nil || posted.JSON200.Message.Seq != 3 || posted.JSON200.Case.Id != id {
		t.Fatalf("message: %d %s", posted.StatusCode(), posted.Body)
	}

	read, err := c.GetCasesIdWithResponse(ctx, id, &tandemclient.GetCasesIdParams{})
	if err != nil {
		t.Fatal(err)
	}
	if read.JSON200 == nil {
		t.Fatalf("read: %d %s", read.StatusCode(), read.Body)
	}
	// A front end's key gets the customer's view of the case.
	view, err := read.JSON200.AsApiCustomerCase()
	if err != nil {
		t.Fatal(err)
	}
	if view.Case.Id != id || view.Messages == nil || len(*view.Messages) != 4 || (*view.Messages)[2].Body != inScope(1) {
		t.Fatalf("read = %+v", view)
	}

	// An error decodes too.
	missing, err := c.GetCasesIdWithResponse(ctx, "00000000-0000-4000-8000-000000000000", &tandemclient.GetCasesIdParams{})
	if err != nil {
		t.Fatal(err)
	}
	if missing.StatusCode() != http.StatusNotFound || missing.JSONDefault == nil || missing.JSONDefault.Error.Code != "case_not_found" {
		t.Fatalf("a missing case: %d %s", missing.StatusCode(), missing.Body)
	}
}
