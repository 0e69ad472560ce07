package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tandem/api"
)

// A front end whose key requires a signed customer assertion acts for the
// one customer its identity system vouched for: it opens, reads, lists and
// writes that customer's cases only, and without a valid assertion nothing.
func TestCustomerAssertionBindsAKeyToOneCustomer(t *testing.T) {
	s := newStack(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var created api.CreatedAPIKey
	r := s.do("POST", "/v1/admin/api-keys", tenantA+"/admin+totp", api.CreateAPIKeyRequest{Name: "web chat",
		CustomerAssertionKey: base64.StdEncoding.EncodeToString(pub)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	r.decode(t, &created)
	if !created.APIKey.RequiresAssertion {
		t.Fatalf("the key does not say it requires assertions: %+v", created.APIKey)
	}
	if r := s.do("POST", "/v1/admin/api-keys", tenantA+"/admin+totp", api.CreateAPIKeyRequest{Name: "bad", CustomerAssertionKey: "c2hvcnQ="}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a short assertion key: %d %s", r.Status, r.Body)
	}
	key := "raw:Bearer " + created.Key
	assert := func(signer any, method jwt.SigningMethod, sub string, iat time.Time, life time.Duration) string {
		tok, err := jwt.NewWithClaims(method, jwt.RegisteredClaims{Subject: sub, Audience: jwt.ClaimStrings{"tandem"},
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(life))}).SignedString(signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	ruth := assert(priv, jwt.SigningMethodEdDSA, "cust-ruth", now, 5*time.Minute)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	for name, c := range map[string]struct {
		assertion string
		code      string
	}{
		"none":             {"", "customer_assertion_required"},
		"another signer":   {assert(otherPriv, jwt.SigningMethodEdDSA, "cust-ruth", now, 5*time.Minute), "customer_assertion_invalid"},
		"HS256 on the key": {assert([]byte(pub), jwt.SigningMethodHS256, "cust-ruth", now, 5*time.Minute), "customer_assertion_invalid"},
		"expired":          {assert(priv, jwt.SigningMethodEdDSA, "cust-ruth", now.Add(-time.Hour), 5*time.Minute), "customer_assertion_invalid"},
		"lives an hour":    {assert(priv, jwt.SigningMethodEdDSA, "cust-ruth", now, time.Hour), "customer_assertion_invalid"},
		"no customer":      {assert(priv, jwt.SigningMethodEdDSA, "", now, 5*time.Minute), "customer_assertion_invalid"},
		"garbage":          {"not.a.jwt", "customer_assertion_invalid"},
	} {
		r := s.do("GET", "/v1/cases", key, nil, api.CustomerAssertionHeader, c.assertion)
		if r.Status != http.StatusUnauthorized || r.errorCode(t) != c.code {
			t.Errorf("%s: %d %s, want 401 %s", name, r.Status, r.Body, c.code)
		}
	}

	open := func(customer, who string, headers ...string) response {
		req := sampleCase()
		req.CustomerRef = customer
		return s.do("POST", "/v1/cases", who, req, headers...)
	}
	r = open("cust-ruth", key, api.CustomerAssertionHeader, ruth)
	if r.Status != http.StatusCreated {
		t.Fatalf("opening Ruth's case as Ruth: %d %s", r.Status, r.Body)
	}
	var mine api.ExchangeJSON
	r.decode(t, &mine)
	if r := open("cust-bob", key, api.CustomerAssertionHeader, ruth); r.Status != http.StatusForbidden || r.errorCode(t) != "customer_mismatch" {
		t.Fatalf("opening Bob's case as Ruth: %d %s", r.Status, r.Body)
	}
	var bobs api.ExchangeJSON
	open("cust-bob", tenantA).decode(t, &bobs) // through another front end
	for _, path := range []string{"/v1/cases/" + bobs.Case.ID, "/v1/cases/" + bobs.Case.ID + "/refunds"} {
		if r := s.do("GET", path, key, nil, api.CustomerAssertionHeader, ruth); r.Status != http.StatusNotFound {
			t.Errorf("GET %s (Bob's) as Ruth: %d %s", path, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/cases/"+bobs.Case.ID+"/messages", key, api.PostMessageRequest{Body: "hello"}, api.CustomerAssertionHeader, ruth); r.Status != http.StatusNotFound {
		t.Errorf("writing to Bob's case as Ruth: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+mine.Case.ID, key, nil, api.CustomerAssertionHeader, ruth); r.Status != http.StatusOK {
		t.Errorf("reading Ruth's case as Ruth: %d %s", r.Status, r.Body)
	}
	var list api.CaseList
	s.do("GET", "/v1/cases", key, nil, api.CustomerAssertionHeader, ruth).decode(t, &list)
	if len(list.Cases) != 1 || list.Cases[0].ID != mine.Case.ID {
		t.Errorf("Ruth's list: %+v, want her case only", list.Cases)
	}
	if r := s.do("GET", "/v1/cases?customer_ref=cust-bob", key, nil, api.CustomerAssertionHeader, ruth); r.Status != http.StatusForbidden {
		t.Errorf("listing Bob's cases as Ruth: %d %s", r.Status, r.Body)
	}
}
