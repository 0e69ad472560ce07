package api

import (
	"net/http"
	"slices"

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
func (s *Server) pendingNotifications(c *gin.Context) error {
	limit, limitErr := pageLimit(c, 50, 200)
	if limitErr != nil {
		return validationError([]FieldError{*limitErr})
	}
	list, next, err := s.store.PendingNotifications(c.Request.Context(), principalOf(c).Tenant, audience(c), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, NotificationList{Notifications: list, NextCursor: next})
	return nil
}

// audience is whom the caller delivers notifications to: a front end, the
// customers; the staff's (supervisors, finance) are not theirs to read. A
// person reads their roles' and their own (a note that mentions them).
func audience(c *gin.Context) store.Audience {
	if customerFacing(c) {
		return store.Audience{Recipients: []string{"customer"}, Channels: principalOf(c).Channels, CustomerRef: principalOf(c).Customer}
	}
	p := principalOf(c)
	return store.Audience{Recipients: append(slices.Clone(p.Roles), store.MentionRecipient(p.ID))}
}

// notificationSent records that the gateway delivered a notification; a
// retry answers the same and audits nothing more.
func (s *Server) notificationSent(c *gin.Context) error {
	id := c.Param("id")
	if len(id) > 300 {
		return errNoNotification
	}
	marked, err := s.store.MarkNotificationSent(c.Request.Context(), principalOf(c).Tenant, audience(c), id)
	if err == nil && marked {
		err = s.audit(c, auditEntry{Action: "notification.sent", ObjectType: "notification", ObjectID: id})
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "sent": true})
	return nil
}
