package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"tandem/api"
	"tandem/policies"
)

// The committed contract is the one the route table makes: change a route,
// run TANDEM_UPDATE_CONTRACT=1 go test -run TestContract ./api/, commit.
func TestContractIsCurrentAndValid(t *testing.T) {
	want, err := api.ContractYAML()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("TANDEM_UPDATE_CONTRACT") == "1" {
		if err := os.WriteFile("openapi.yaml", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("api/openapi.yaml is not what the route table makes: run TANDEM_UPDATE_CONTRACT=1 go test -run TestContract ./api/ and commit it")
	}
	doc, err := openapi3.NewLoader().LoadFromData(have)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the contract is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("contract version %s", doc.OpenAPI)
	}
}

// Every route the router serves is in the contract, and every path of the
// contract is a route; every /v1 route is authorised by a rule the default
// policies have, and no other route asks for one. No stack needed: the
// router is built with nothing behind it.
func TestContractCoversTheRouter(t *testing.T) {
	handler := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	routes := map[string]bool{}
	for _, r := range handler.(interface{ Routes() gin.RoutesInfo }).Routes() {
		routes[r.Method+" "+r.Path] = true
	}
	var listed []string
	for _, e := range api.Endpoints {
		listed = append(listed, e.Method+" "+e.Path)
		if !routes[e.Method+" "+e.Path] {
			t.Errorf("%s %s is in the contract but not served", e.Method, e.Path)
		}
	}
	for r := range routes {
		if r == "GET /console/assets/*file" || r == "GET /console/" {
			continue // the console's script and style sheet, and a redirect to its page: not API
		}
		if !slices.Contains(listed, r) {
			t.Errorf("%s is served but not in the contract", r)
		}
	}

	rules, err := policies.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	authz, err := policies.NewAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	if err := authz.Load(rules); err != nil {
		t.Fatal(err)
	}
	for _, e := range api.Endpoints {
		v1 := strings.HasPrefix(e.Path, "/v1/")
		switch {
		case v1 && (e.Object == "" || e.Action == ""):
			t.Errorf("%s %s has no (object, action): the router would refuse every call", e.Method, e.Path)
		case v1 && !slices.ContainsFunc(policies.Roles, func(role string) bool {
			ok, _ := authz.Allowed([]string{role}, "any-tenant", e.Object, e.Action)
			return ok
		}):
			t.Errorf("%s %s: no role may %s %s under the default rules", e.Method, e.Path, e.Action, e.Object)
		case !v1 && !strings.HasPrefix(e.Path, "/console/") && e.Object != "":
			t.Errorf("%s %s is public but names %s:%s", e.Method, e.Path, e.Object, e.Action)
		}
	}
}

// The contract is served as JSON, and the reference page that renders it
// needs nothing from outside the binary.
func TestContractIsServed(t *testing.T) {
	s := newStack(t)
	r := s.do("GET", "/openapi.json", "", nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range doc.Paths.Map() {
		ops += len(item.Operations())
	}
	if ops != len(api.Endpoints) {
		t.Fatalf("served contract has %d operations, the table %d", ops, len(api.Endpoints))
	}
	page := s.do("GET", "/docs", "", nil)
	if page.Status != 200 || !bytes.Contains(page.Body, []byte(`fetch("/openapi.json")`)) {
		t.Fatalf("/docs: %d", page.Status)
	}
	for _, external := range []string{"http://", "https://", "//cdn"} {
		if bytes.Contains(page.Body, []byte("src=\""+external)) || bytes.Contains(page.Body, []byte("href=\""+external)) {
			t.Fatalf("/docs loads something from outside: %s", external)
		}
	}
}
