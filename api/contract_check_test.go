package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"tandem/api"
)

// contractRouter finds a request's operation in the committed contract.
var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match any host: the tests' servers listen on random ports
	// Exports are text the contract does not parse, only names.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	for _, ct := range api.AttachmentTypes { // a download is the file's bytes
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	return gorillamux.NewRouter(doc)
})

// checkContract fails the test if a response the API gave is not what the
// contract says it gives for that operation and status: every response an
// API test receives is checked, so the contract cannot drift.
func checkContract(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := contractRouter()
	if err != nil {
		t.Fatalf("the contract: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return // no such route: the API's own 404 route_not_found
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d against the contract: %v\nbody: %.600s", req.Method, req.URL.Path, status, err, body)
	}
}
