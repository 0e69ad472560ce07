package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// RevokeTokenRequest is the body of POST /v1/admin/tokens/revoke: one
// token by its jti, or every token of a person issued until now.
type RevokeTokenRequest struct {
	JTI     string `json:"jti,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// revokeToken revokes a person's token, or all of a person's tokens, in the
// caller's tenant; from then on they answer 401. Audited.
func (s *Server) revokeToken(c *gin.Context) error {
	var req RevokeTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if (req.JTI == "") == (req.Subject == "") || !textID(req.JTI+req.Subject) {
		return validationError([]FieldError{{"jti", "give a token's jti or a person's subject (one of them, at most 128 characters)"}})
	}
	p := principalOf(c)
	what, id := "token", req.JTI
	var err error
	if req.Subject != "" {
		what, id = "subject", req.Subject
		err = s.store.RevokeSubject(c.Request.Context(), p.Tenant, req.Subject, p.ID, time.Now())
	} else {
		err = s.store.RevokeToken(c.Request.Context(), p.Tenant, req.JTI, p.ID)
	}
	if err == nil {
		err = s.audit(c, auditEntry{Action: "token.revoke", ObjectType: what, ObjectID: id})
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"revoked": gin.H{what: id}})
	return nil
}
