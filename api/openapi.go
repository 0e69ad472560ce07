package api

import (
	_ "embed"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// openAPIYAML is the contract, made from Endpoints (contract.go) and held
// to it by TestContractIsCurrentAndValid.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// docsHTML renders the contract in a browser: one static page, no CDN.
//
//go:embed docs/index.html
var docsHTML []byte

var contractJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIYAML)
	if err != nil {
		return nil, err
	}
	return doc.MarshalJSON()
})

// openAPI serves the contract as JSON.
func (s *Server) openAPI(c *gin.Context) error {
	raw, err := contractJSON()
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "application/json", raw)
	return nil
}

// docsPage serves the API reference page, which reads /openapi.json.
func (s *Server) docsPage(c *gin.Context) error {
	c.Header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'self'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", docsHTML)
	return nil
}
