package api

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// pathIDRules say what each ID in a route's path looks like. An ID that
// does not is answered as a record that does not exist (404, saying which),
// before anything reads the database or writes the audit trail with it.
var pathIDRules = []struct {
	prefix, param string
	valid         func(string) bool
	notFound      *Error
}{
	{"/v1/cases/", "id", canonicalUUID, errCaseNotFound},
	{"/v1/cases/", "seq", sequence, errorf(http.StatusNotFound, "message_not_found", "no such message")},
	{"/v1/audit/events/", "seq", sequence, errorf(http.StatusNotFound, "audit_event_not_found", "no such audit entry")},
	{"/v1/refunds/", "id", canonicalUUID, errorf(http.StatusNotFound, "refund_not_found", "no such refund")},
	{"/v1/kb/articles/", "id", canonicalUUID, errorf(http.StatusNotFound, "article_not_found", "no such article")},
	{"/v1/legal-holds/", "id", textID, errorf(http.StatusNotFound, "legal_hold_not_found", "no such legal hold")},
	{"/v1/admin/api-keys/", "id", hexID, errorf(http.StatusNotFound, "api_key_not_found", "no such api key")},
	{"/v1/admin/webhooks/", "id", textID, errorf(http.StatusNotFound, "webhook_not_found", "no such webhook")},
	{"/v1/admin/webhooks/", "event", textID, errorf(http.StatusNotFound, "delivery_not_found", "no such delivery")},
	{"/v1/notifications/", "id", textID, errorf(http.StatusNotFound, "notification_not_found", "no such notification")},
	{"/v1/agents/", "id", textID, errorf(http.StatusNotFound, "agent_not_found", "no such agent")},
	{"/v1/admin/totp/", "subject", textID, errorf(http.StatusNotFound, "totp_not_found", "this person has no second factor")},
	{"/v1/queues/", "queue", queueName.MatchString, errorf(http.StatusNotFound, "queue_not_found", "no such queue")},
	{"/v1/admin/case-fields/", "name", fieldName.MatchString, errFieldNotFound},
	{"/v1/macros/", "id", canonicalUUID, errMacroNotFound},
	{"/v1/bulk/", "id", canonicalUUID, errBulkNotFound},
	{"/v1/cases/", "macro", canonicalUUID, errMacroNotFound},
	{"/v1/cases/", "attachment", canonicalUUID, errAttachmentNotFound},
}

// pathIDRule finds the rule for a route's path parameter.
func pathIDRule(route, param string) (func(string) bool, *Error, bool) {
	for _, r := range pathIDRules {
		if strings.HasPrefix(route, r.prefix) && r.param == param {
			return r.valid, r.notFound, true
		}
	}
	return nil, nil, false
}

// checkPathIDs answers 404 for a malformed ID in the path.
func (s *Server) checkPathIDs(c *gin.Context) {
	for _, p := range c.Params {
		valid, notFound, ok := pathIDRule(c.FullPath(), p.Key)
		if !ok {
			valid, notFound = textID, errorf(http.StatusNotFound, "not_found", "no such record")
		}
		if !valid(p.Value) {
			respondError(c, s.log, notFound)
			return
		}
	}
	c.Next()
}

// canonicalUUID accepts the 36-character form only: not urn:uuid:, braces
// or bare hex, which the database would read differently or not at all.
func canonicalUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && strings.EqualFold(u.String(), s)
}

// sequence is a message's sequence number in a case.
func sequence(s string) bool {
	if len(s) == 0 || len(s) > 18 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// hexID is an API key's ID: 16 lower-case hex digits.
func hexID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// textID is an ID people or other systems chose (an agent's subject, a
// notification's ID): valid UTF-8, 1 to 128 characters, none a control.
func textID(s string) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= 1 && n <= 128 && strings.IndexFunc(s, unicode.IsControl) < 0
}
