package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies"
	"tandem/workflows"
)

// CreateAPIKeyRequest is the body of POST /v1/admin/api-keys.
type CreateAPIKeyRequest struct {
	Name string `json:"name"`
	// Channels binds the key to the channels it serves (web_chat, app,
	// email, ivr, api); absent: every channel.
	Channels []string `json:"channels,omitempty"`
	// CustomerAssertionKey, base64 of a 32-byte Ed25519 public key, makes
	// the key require a customer assertion signed by its private key on
	// every request (see CustomerAssertionHeader); absent: none.
	CustomerAssertionKey string `json:"customer_assertion_key,omitempty"`
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
	for _, ch := range req.Channels {
		if !slices.Contains(workflows.Channels, ch) {
			return validationError([]FieldError{{"channels", "each must be one of " + strings.Join(workflows.Channels, ", ")}})
		}
	}
	if req.Channels != nil && len(req.Channels) == 0 {
		return validationError([]FieldError{{"channels", "name at least one channel, or leave it out for every channel"}})
	}
	var assertionKey []byte
	if req.CustomerAssertionKey != "" {
		var err error
		if assertionKey, err = base64.StdEncoding.DecodeString(req.CustomerAssertionKey); err != nil || len(assertionKey) != ed25519.PublicKeySize {
			return validationError([]FieldError{{"customer_assertion_key", "base64 of a 32-byte Ed25519 public key"}})
		}
	}
	var token string
	var key store.APIKey
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if token, key, err = tx.CreateAPIKeyFor(c.Request.Context(), store.APIKeySpec{TenantID: principalOf(c).Tenant, Name: req.Name,
			Role: policies.RoleService, Channels: req.Channels, CreatedBy: principalOf(c).ID, AssertionKey: assertionKey}); err != nil {
			return err
		}
		return s.auditTx(c, tx, "api_key.create", "api_key", key.ID, map[string]string{"name": key.Name, "role": key.Role,
			"channels": key.Channels, "requires_customer_assertion": strconv.FormatBool(key.RequiresAssertion)})
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
	if s.apiKeys != nil {
		s.apiKeys.Forget(key.ID) // here at once; other processes when notified
	}
	c.JSON(http.StatusOK, gin.H{"api_key": key})
	return nil
}
