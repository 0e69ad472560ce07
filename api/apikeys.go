package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies"
)

// CreateAPIKeyRequest is the body of POST /v1/admin/api-keys.
type CreateAPIKeyRequest struct {
	Name string `json:"name"`
}

// CreatedAPIKey is the answer to a key's creation: the only time its secret is shown.
type CreatedAPIKey struct {
	Key    string       `json:"key"`
	APIKey store.APIKey `json:"api_key"`
}

func (s *Server) createAPIKey(c *gin.Context) error {
	var req CreateAPIKeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 100 {
		return validationError([]FieldError{{"name", "is required, at most 100 characters"}})
	}
	var token string
	var key store.APIKey
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if token, key, err = tx.CreateAPIKey(c.Request.Context(), principalOf(c).Tenant, req.Name, policies.RoleService); err != nil {
			return err
		}
		return s.auditTx(c, tx, "api_key.create", "api_key", key.ID, map[string]string{"name": key.Name, "role": key.Role})
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, CreatedAPIKey{Key: token, APIKey: key})
	return nil
}

func (s *Server) listAPIKeys(c *gin.Context) error {
	keys, err := s.store.ListAPIKeys(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	c.JSON(http.StatusOK, gin.H{"api_keys": keys})
	return nil
}

func (s *Server) revokeAPIKey(c *gin.Context) error {
	var key store.APIKey
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if key, err = tx.RevokeAPIKey(c.Request.Context(), principalOf(c).Tenant, c.Param("id")); err != nil {
			return err
		}
		return s.auditTx(c, tx, "api_key.revoke", "api_key", key.ID, nil)
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"api_key": key})
	return nil
}
