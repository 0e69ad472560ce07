package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
)

// NotificationList is the body of GET /v1/notifications.
type NotificationList struct {
	Notifications []store.Notification `json:"notifications"`
	NextCursor    string               `json:"next_cursor,omitempty"`
}

var errNoNotification = errorf(http.StatusNotFound, "notification_not_found", "no such notification")

// pendingNotifications lists what the tenant's channel gateway still owes
// people (the customer of a case, or a role), oldest first. Notifications
// name what happened and to what (a refund paid, an approval waiting), never
// message content: the gateway reads what it needs through the API.
func (s *Server) pendingNotifications(c *gin.Context) {
	limit := 50
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			respondError(c, s.log, validationError([]FieldError{{"limit", "from 1 to 200"}}))
			return
		}
		limit = n
	}
	list, next, err := s.store.PendingNotifications(c.Request.Context(), principalOf(c).Tenant, c.Query("cursor"), limit)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, NotificationList{Notifications: list, NextCursor: next})
}

// notificationSent records that the gateway delivered a notification; a
// retry answers the same and audits nothing more.
func (s *Server) notificationSent(c *gin.Context) {
	id := c.Param("id")
	if len(id) > 300 {
		respondError(c, s.log, errNoNotification)
		return
	}
	marked, err := s.store.MarkNotificationSent(c.Request.Context(), principalOf(c).Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		err = errNoNotification
	}
	if err == nil && marked {
		err = s.audit(c, "notification.sent", "notification", id, "", "allow", "success", "", nil)
	}
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "sent": true})
}
