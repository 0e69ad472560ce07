package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Every ID in every route's path is checked before use: malformed, it is a
// 404 naming the record, never a 500, and never reaches the audit trail.
func TestMalformedPathIDsAre404(t *testing.T) {
	s := newStack(t)
	routes := s.handler.(*gin.Engine).Routes()
	bad := []string{"not-a-uuid", "%ff", "%00", "urn:uuid:" + "6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21", "{6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21}",
		strings.Repeat("a", 4000), "x%0Ay"}
	tried := 0
	for _, r := range routes {
		if !strings.Contains(r.Path, ":") {
			continue
		}
		segments := strings.Split(r.Path, "/")
		for i, seg := range segments {
			if !strings.HasPrefix(seg, ":") {
				continue
			}
			for _, b := range bad {
				freeText := seg == ":subject" || seg == ":id" && (strings.HasPrefix(r.Path, "/v1/agents/") ||
					strings.HasPrefix(r.Path, "/v1/notifications/") || strings.HasPrefix(r.Path, "/v1/legal-holds/"))
				if freeText && (b == "not-a-uuid" || strings.HasPrefix(b, "urn:") || strings.HasPrefix(b, "{")) || seg == ":queue" && b == "not-a-uuid" {
					continue // well-formed there: free text, or a queue's name
				}
				path := make([]string, len(segments))
				for j, other := range segments {
					switch {
					case j == i:
						path[j] = b
					case other == ":seq":
						path[j] = "2"
					case strings.HasPrefix(other, ":"):
						path[j] = "6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21"
					default:
						path[j] = other
					}
				}
				p := strings.Join(path, "/")
				if _, err := url.ParseRequestURI(p); err != nil {
					continue
				}
				resp := s.do(r.Method, p, tenantA+"/admin+totp", nil)
				tried++
				if resp.Status != http.StatusNotFound || !strings.HasSuffix(resp.errorCode(t), "not_found") {
					t.Errorf("%s %s (%s = %.20q): %d %s, want a 404 *_not_found", r.Method, r.Path, seg, b, resp.Status, resp.Body)
				}
			}
		}
	}
	if tried < 50 {
		t.Fatalf("only %d malformed requests tried: the routes were not found", tried)
	}
	// Nothing of them reached the audit trail.
	var n int64
	if err := s.store.DB().Raw(`SELECT count(*) FROM audit_events WHERE length(object_id) > 128 OR object_id LIKE '%urn:%'`).Scan(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d audit entries hold a malformed ID (%v)", n, err)
	}
}
