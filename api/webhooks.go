package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/workflows"
)

// WebhookRequest is the body of POST /v1/admin/webhooks and of PATCH
// /v1/admin/webhooks/{id} (where every field is optional).
type WebhookRequest struct {
	URL          string   `json:"url,omitempty"`
	EventTypes   []string `json:"event_types,omitempty"`
	DisableAfter int      `json:"disable_after,omitempty"` // failed deliveries in a row that disable it (default 50)
	Enabled      *bool    `json:"enabled,omitempty"`
}

// CreatedWebhook answers a creation or a rotation: the only time the secret is shown.
type CreatedWebhook struct {
	Webhook store.Webhook `json:"webhook"`
	Secret  string        `json:"secret"`
}

// DeliveryList is a page of an endpoint's deliveries.
type DeliveryList struct {
	Deliveries []store.Delivery `json:"deliveries"`
	NextBefore int64            `json:"next_before,omitempty"`
}

// secretGrace is how long a rotated-out secret still signs deliveries.
const secretGrace = 24 * time.Hour

func (s *Server) validateWebhook(ctx context.Context, tenant string, req WebhookRequest, creating bool) error {
	var errs []FieldError
	if creating || req.URL != "" {
		allow, err := s.store.WebhooksAllowPrivate(ctx, tenant)
		if err != nil {
			return err
		}
		if err := webhooks.CheckURL(ctx, req.URL, allow); err != nil {
			errs = append(errs, FieldError{"url", err.Error()})
		}
	}
	if creating && len(req.EventTypes) == 0 {
		errs = append(errs, FieldError{"event_types", "name at least one of " + strings.Join(store.WebhookEventTypes, ", ")})
	}
	for _, t := range req.EventTypes {
		if !store.KnownEventType(t) {
			errs = append(errs, FieldError{"event_types", "each one of " + strings.Join(store.WebhookEventTypes, ", ")})
			break
		}
	}
	if req.DisableAfter < 0 || req.DisableAfter > 10000 {
		errs = append(errs, FieldError{"disable_after", "from 1 to 10000 failed deliveries in a row"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	return nil
}

func (s *Server) createWebhook(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	var req WebhookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.validateWebhook(ctx, tenant, req, true); err != nil {
		return err
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	var w store.Webhook
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if w, err = tx.CreateWebhook(ctx, tenant, principalOf(c).ID, store.WebhookSpec{URL: req.URL, EventTypes: slices.Compact(slices.Sorted(slices.Values(req.EventTypes))),
			DisableAfter: req.DisableAfter}, secret); err != nil {
			return err
		}
		return s.auditTx(c, tx, "webhook.create", "webhook", w.ID, map[string]string{"url": w.URL, "event_types": w.EventTypes})
	})
	if err != nil {
		return err
	}
	if err := s.startDelivery(ctx, w); err != nil {
		return err
	}
	c.JSON(http.StatusCreated, CreatedWebhook{Webhook: w, Secret: secret})
	return nil
}

// startDelivery starts the endpoint's delivery workflow, or finds it running.
func (s *Server) startDelivery(ctx context.Context, w store.Webhook) error {
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WebhookWorkflowID(w.TenantID, w.ID), TaskQueue: s.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.WebhookWorkflowName, workflows.WebhookInput{TenantID: w.TenantID, EndpointID: w.ID})
	return err
}

func (s *Server) listWebhooks(c *gin.Context) error {
	ws, err := s.store.Webhooks(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []store.Webhook{}
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": ws})
	return nil
}

func (s *Server) getWebhook(c *gin.Context) error {
	w, err := s.store.GetWebhook(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"webhook": w})
	return nil
}

func (s *Server) updateWebhook(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	if _, err := s.store.GetWebhook(ctx, tenant, c.Param("id")); err != nil {
		return err
	}
	var req WebhookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.validateWebhook(ctx, tenant, req, false); err != nil {
		return err
	}
	var w store.Webhook
	err := s.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if w, err = tx.UpdateWebhook(ctx, tenant, c.Param("id"), store.WebhookSpec{URL: req.URL, EventTypes: req.EventTypes,
			DisableAfter: req.DisableAfter, Enabled: req.Enabled}); err != nil {
			return err
		}
		return s.auditTx(c, tx, "webhook.update", "webhook", w.ID, map[string]string{"url": w.URL, "event_types": w.EventTypes,
			"enabled": strconv.FormatBool(w.Enabled)})
	})
	if err != nil {
		return err
	}
	if w.Enabled {
		if err := s.startDelivery(ctx, w); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, gin.H{"webhook": w})
	return nil
}

func (s *Server) rotateWebhookSecret(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	var w store.Webhook
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if w, err = tx.RotateWebhookSecret(ctx, tenant, c.Param("id"), secret, secretGrace); err != nil {
			return err
		}
		return s.auditTx(c, tx, "webhook.rotate_secret", "webhook", w.ID, nil)
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, CreatedWebhook{Webhook: w, Secret: secret})
	return nil
}

func (s *Server) deleteWebhook(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	err := s.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteWebhook(ctx, tenant, c.Param("id")); err != nil {
			return err
		}
		return s.auditTx(c, tx, "webhook.delete", "webhook", c.Param("id"), nil)
	})
	if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *Server) listDeliveries(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	if _, err := s.store.GetWebhook(ctx, tenant, c.Param("id")); err != nil {
		return err
	}
	status := c.Query("status")
	var errs []FieldError
	if status != "" && !slices.Contains([]string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead}, status) {
		errs = append(errs, FieldError{"status", "pending, delivered or dead"})
	}
	var before int64
	if raw := c.Query("before"); raw != "" {
		var err error
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			errs = append(errs, FieldError{"before", "a position from next_before"})
		}
	}
	limit, limitErr := pageLimit(c, defaultPageSize, maxPageSize)
	if limitErr != nil {
		errs = append(errs, *limitErr)
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	list, err := s.store.Deliveries(ctx, tenant, c.Param("id"), status, before, limit+1)
	if err != nil {
		return err
	}
	out := DeliveryList{Deliveries: list}
	if len(list) > limit {
		out.Deliveries = list[:limit]
		out.NextBefore = list[limit-1].EventSeq
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *Server) redeliver(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	w, err := s.store.GetWebhook(ctx, tenant, c.Param("id"))
	if err != nil {
		return err
	}
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.Redeliver(ctx, tenant, w.ID, c.Param("event")); err != nil {
			return err
		}
		return s.auditTx(c, tx, "webhook.redeliver", "webhook", w.ID, map[string]string{"event_id": c.Param("event")})
	})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "delivery_not_found", "no such delivery")
	}
	if err != nil {
		return err
	}
	if w.Enabled {
		if err := s.startDelivery(ctx, w); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, gin.H{"event_id": c.Param("event"), "status": store.DeliveryPending})
	return nil
}
