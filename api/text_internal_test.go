package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"tandem/workflows"
)

// A knowledge-base import line longer than an import may be (where the
// deployment lets bodies be larger than that) is 413, not a 500.
func TestImportLineTooLongIs413(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/kb/import", bytes.NewReader(bytes.Repeat([]byte("x"), maxImportBodySize+1)))
	err := (&Server{}).importArticles(c)
	if got, known := toAPIError(err); !known || got.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%v maps to %d %s, want 413", err, got.Status, got.Code)
	}
}

// Text is refused for what it holds, naming the field.
func TestBadText(t *testing.T) {
	for _, tc := range []struct {
		s         string
		multiline bool
		bad       bool
	}{
		{"plain", false, false}, {"中文 und Ümlaut", false, false}, {"tab\there", false, false},
		{"line\nbreak", true, false}, {"line\nbreak", false, true}, {"nul\x00", true, true},
		{"bell\a", true, true}, {"del\x7f", true, true}, {"c1\u0085", true, true}, {"\xff", true, true},
	} {
		if got := badText(tc.s, tc.multiline) != ""; got != tc.bad {
			t.Errorf("badText(%q, %v) = %v, want %v", tc.s, tc.multiline, got, tc.bad)
		}
	}
	req := RefundRequest{OrderRef: "1001", Items: []workflows.RefundItem{{SKU: "a\x00"}}}
	if field, why := textProblem(&req); field != "items[0].sku" || why == "" {
		t.Errorf("textProblem: %q %q, want items[0].sku", field, why)
	}
}
