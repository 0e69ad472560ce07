package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
)

// RetentionJSON is the body of GET and PUT /v1/admin/retention: days after a
// case closes that its content is kept; null keeps it for ever.
type RetentionJSON struct {
	Days *int `json:"days"`
}

// maxRetentionDays bounds the setting: 100 years.
const maxRetentionDays = 36500

func (s *Server) getRetention(c *gin.Context) error {
	days, err := s.store.Retention(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, RetentionJSON{Days: days})
	return nil
}

func (s *Server) setRetention(c *gin.Context) error {
	var req RetentionJSON
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Days != nil && (*req.Days < 1 || *req.Days > maxRetentionDays) {
		return validationError([]FieldError{{"days", "must be from 1 to 36500, or null to keep for ever"}})
	}
	setting := "forever"
	if req.Days != nil {
		setting = strconv.Itoa(*req.Days)
	}
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		if err := tx.SetRetention(c.Request.Context(), principalOf(c).Tenant, req.Days); err != nil {
			return err
		}
		return s.auditTx(c, tx, "retention.set", "tenant", principalOf(c).Tenant, map[string]string{"days": setting})
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, req)
	return nil
}
