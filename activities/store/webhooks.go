package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"tandem/activities/envelope"
	"tandem/policies"
)

// Webhook is a tenant's endpoint. Its secret is sealed by the master key
// and shown once, when made or rotated.
type Webhook struct {
	TenantID       string     `json:"tenant_id"`
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	EventTypes     string     `json:"-"` // comma-separated
	Events         []string   `gorm:"-" json:"event_types"`
	Secret         []byte     `json:"-"`
	PrevSecret     []byte     `json:"-"`
	PrevUntil      *time.Time `json:"previous_secret_valid_until,omitempty"`
	MasterKeyID    string     `json:"-"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisableAfter   int        `json:"disable_after"`
	Failures       int        `json:"consecutive_failures"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	DeletedAt      *time.Time `json:"-"`
}

// TableName is the endpoints' table.
func (Webhook) TableName() string { return "webhook_endpoints" }

// AfterFind lists the event types.
func (w *Webhook) AfterFind(*gorm.DB) error {
	w.Events = strings.Split(w.EventTypes, ",")
	return nil
}

// WebhookSpec is what a new or changed endpoint says.
type WebhookSpec struct {
	URL          string
	EventTypes   []string
	DisableAfter int // 0: 50
	Enabled      *bool
}

func webhookAAD(tenantID, id string) string { return "webhook-secret:" + tenantID + ":" + id }

// CreateWebhook registers an endpoint with the secret given (sealed here).
func (s *Store) CreateWebhook(ctx context.Context, tenantID, by string, spec WebhookSpec, secret string) (Webhook, error) {
	if s.keys == nil {
		return Webhook{}, ErrNoKeyring
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return Webhook{}, err
	}
	w := Webhook{TenantID: tenantID, ID: "wh_" + hex.EncodeToString(b), URL: spec.URL, EventTypes: strings.Join(spec.EventTypes, ","), Events: spec.EventTypes,
		Enabled: true, DisableAfter: spec.DisableAfter, CreatedBy: by, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if w.DisableAfter == 0 {
		w.DisableAfter = 50
	}
	sealed, mid, err := s.keys.Wrap([]byte(secret), webhookAAD(tenantID, w.ID))
	if err != nil {
		return Webhook{}, err
	}
	w.Secret, w.MasterKeyID = sealed, mid
	if err := s.db.WithContext(ctx).Create(&w).Error; err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// Webhooks lists the tenant's endpoints, newest first.
func (s *Store) Webhooks(ctx context.Context, tenantID string) ([]Webhook, error) {
	var out []Webhook
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND deleted_at IS NULL", tenantID).Order("created_at DESC, id").Find(&out).Error
	return out, err
}

// GetWebhook returns an endpoint of the tenant.
func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (Webhook, error) {
	var w Webhook
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ? AND deleted_at IS NULL", tenantID, id).Take(&w).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Webhook{}, NotFound("webhook")
	}
	return w, err
}

// UpdateWebhook changes an endpoint's URL, events, threshold or state;
// enabling it again clears its failures.
func (s *Store) UpdateWebhook(ctx context.Context, tenantID, id string, spec WebhookSpec) (Webhook, error) {
	changes := map[string]any{}
	if spec.URL != "" {
		changes["url"] = spec.URL
	}
	if spec.EventTypes != nil {
		changes["event_types"] = strings.Join(spec.EventTypes, ",")
	}
	if spec.DisableAfter != 0 {
		changes["disable_after"] = spec.DisableAfter
	}
	if spec.Enabled != nil {
		changes["enabled"] = *spec.Enabled
		if *spec.Enabled {
			changes["failures"], changes["disabled_reason"] = 0, ""
		} else {
			changes["disabled_reason"] = "disabled by an administrator"
		}
	}
	if len(changes) > 0 {
		res := s.db.WithContext(ctx).Model(&Webhook{}).Where("tenant_id = ? AND id = ? AND deleted_at IS NULL", tenantID, id).Updates(changes)
		if res.Error != nil {
			return Webhook{}, fmt.Errorf("update webhook: %w", res.Error)
		}
	}
	return s.GetWebhook(ctx, tenantID, id)
}

// RotateWebhookSecret makes secret the endpoint's; the one before stays
// valid (deliveries are signed with both) until grace has passed.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenantID, id, secret string, grace time.Duration) (Webhook, error) {
	if s.keys == nil {
		return Webhook{}, ErrNoKeyring
	}
	w, err := s.GetWebhook(ctx, tenantID, id)
	if err != nil {
		return Webhook{}, err
	}
	old, err := s.keys.Unwrap(w.MasterKeyID, w.Secret, webhookAAD(tenantID, id))
	if err != nil {
		return Webhook{}, err
	}
	sealedNew, mid, err := s.keys.Wrap([]byte(secret), webhookAAD(tenantID, id))
	if err != nil {
		return Webhook{}, err
	}
	sealedOld, _, err := s.keys.Wrap(old, webhookAAD(tenantID, id)+":previous")
	if err != nil {
		return Webhook{}, err
	}
	until := time.Now().Add(grace).UTC()
	err = s.db.WithContext(ctx).Model(&Webhook{}).Where("tenant_id = ? AND id = ?", tenantID, id).
		Updates(map[string]any{"secret": sealedNew, "prev_secret": sealedOld, "prev_until": until, "master_key_id": mid}).Error
	if err != nil {
		return Webhook{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	return s.GetWebhook(ctx, tenantID, id)
}

// WebhookSecrets are the secrets deliveries are signed with now: the
// current one, and the previous one within its grace.
func (s *Store) WebhookSecrets(ctx context.Context, w Webhook) ([]string, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	cur, err := s.keys.Unwrap(w.MasterKeyID, w.Secret, webhookAAD(w.TenantID, w.ID))
	if err != nil {
		return nil, err
	}
	out := []string{string(cur)}
	if w.PrevSecret != nil && w.PrevUntil != nil && time.Now().Before(*w.PrevUntil) {
		prev, err := s.keys.Unwrap(w.MasterKeyID, w.PrevSecret, webhookAAD(w.TenantID, w.ID)+":previous")
		if err != nil {
			return nil, err
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// DeleteWebhook removes an endpoint: nothing more is delivered to it.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	res := s.db.WithContext(ctx).Model(&Webhook{}).Where("tenant_id = ? AND id = ? AND deleted_at IS NULL", tenantID, id).
		Updates(map[string]any{"deleted_at": time.Now().UTC(), "enabled": false})
	if res.Error != nil {
		return fmt.Errorf("delete webhook: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("webhook")
	}
	return nil
}

// WebhooksAllowPrivate says whether the tenant's endpoints may be on
// loopback or private networks.
func (s *Store) WebhooksAllowPrivate(ctx context.Context, tenantID string) (bool, error) {
	var allow bool
	err := s.db.WithContext(ctx).Raw(`SELECT webhooks_allow_private FROM tenants WHERE id = ?`, tenantID).Scan(&allow).Error
	return allow, err
}

// AllowPrivateWebhooks lets (or stops) a tenant's endpoints be on private networks.
func (s *Store) AllowPrivateWebhooks(ctx context.Context, tenantID string, allow bool) error {
	return s.db.WithContext(ctx).Exec(`UPDATE tenants SET webhooks_allow_private = ? WHERE id = ?`, allow, tenantID).Error
}

// WebhookEvent is one event a transition makes: its ID is the audit
// entry's, so a retried projection write makes the same event.
type WebhookEvent struct {
	ID         string
	CaseID     string
	Type       string
	Data       map[string]any
	OccurredAt time.Time
}

// WrittenAt is where in a case workflow's history a projection write was
// made: its run, and the history length when its workflow task started.
type WrittenAt struct {
	WorkflowID, RunID string
	Gen, Event        int64
}

// emitWebhookEvents writes events and a delivery for each endpoint that
// takes its type, in the caller's transaction. Payloads are sealed under
// the customer's data key when dek is given: they can hold the conversation.
// Events written at a position (at non-nil) are held until that workflow
// task is known to have committed (ReleaseEvents); an event still held from
// an earlier position, or from an earlier attempt at this one (a lost
// task's), moves to this write.
func emitWebhookEvents(ctx context.Context, db *gorm.DB, tenantID string, events []WebhookEvent, keyID string, dek []byte, at *WrittenAt) error {
	var wfID, runID *string
	var gen, event *int64
	if at != nil {
		wfID, runID, gen, event = &at.WorkflowID, &at.RunID, &at.Gen, &at.Event
	}
	for _, e := range events {
		payload, err := json.Marshal(map[string]any{"id": e.ID, "type": e.Type, "tenant_id": tenantID, "case_id": e.CaseID,
			"occurred_at": e.OccurredAt.UTC().Format(time.RFC3339Nano), "data": e.Data})
		if err != nil {
			return err
		}
		var key *string
		if dek != nil {
			if payload, err = envelope.Seal(dek, payload, []byte("webhook-event:"+tenantID+":"+e.ID)); err != nil {
				return err
			}
			key = &keyID
		}
		var caseID *string
		if e.CaseID != "" {
			caseID = &e.CaseID
		}
		err = db.WithContext(ctx).Exec(`WITH ev AS (
				INSERT INTO webhook_events (tenant_id, id, case_id, type, payload, key_id, occurred_at, held, workflow_id, run_id, proj_gen, proj_event)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, id) DO UPDATE SET payload = excluded.payload, key_id = excluded.key_id, occurred_at = excluded.occurred_at,
					run_id = excluded.run_id, proj_gen = excluded.proj_gen, proj_event = excluded.proj_event
				WHERE webhook_events.held AND (webhook_events.proj_gen, webhook_events.proj_event) <= (excluded.proj_gen, excluded.proj_event)
				RETURNING tenant_id, id, seq, case_id, type)
			INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_seq, case_id)
			SELECT ev.tenant_id, w.id, ev.id, ev.seq, ev.case_id FROM ev JOIN webhook_endpoints w
				ON w.tenant_id = ev.tenant_id AND w.enabled AND w.deleted_at IS NULL AND ev.type = ANY (string_to_array(w.event_types, ','))
			ON CONFLICT DO NOTHING`,
			tenantID, e.ID, caseID, e.Type, payload, key, e.OccurredAt, at != nil, wfID, runID, gen, event).Error
		if err != nil {
			return fmt.Errorf("emit webhook event: %w", err)
		}
	}
	return nil
}

// Delivery is one event owed to one endpoint.
type Delivery struct {
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	EventSeq       int64      `json:"-"`
	CaseID         *string    `json:"case_id,omitempty"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	FirstAttemptAt *time.Time `json:"first_attempt_at,omitempty"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LastStatus     *int       `json:"last_status,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
	OccurredAt     time.Time  `json:"occurred_at"`
	Payload        []byte     `json:"-"` // the body to send, opened
	KeyID          *string    `json:"-"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// DueDeliveries returns what the endpoint should be sent now, oldest
// first: of each case, only its oldest pending event, and only once its
// next attempt is due, so a case's events arrive in order. A payload whose
// customer was erased is dead-lettered instead.
func (s *Store) DueDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]Delivery, error) {
	var heads []Delivery
	err := s.db.WithContext(ctx).Raw(`SELECT * FROM (
			SELECT DISTINCT ON (coalesce(d.case_id::text, d.event_id)) d.event_id, ev.type AS event_type, d.event_seq,
				d.case_id::text AS case_id, d.status, d.attempts, d.first_attempt_at, d.next_attempt_at, d.last_status,
				d.last_error, d.delivered_at, ev.occurred_at, ev.payload, ev.key_id, ev.held
			FROM webhook_deliveries d JOIN webhook_events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
			WHERE d.tenant_id = ? AND d.endpoint_id = ? AND d.status = 'pending'
			ORDER BY coalesce(d.case_id::text, d.event_id), d.event_seq) heads
		WHERE next_attempt_at <= now() AND NOT held ORDER BY event_seq LIMIT ?`, tenantID, endpointID, limit).Scan(&heads).Error
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	out := heads[:0]
	for _, d := range heads {
		if d.KeyID != nil {
			dek, err := s.DataKey(ctx, *d.KeyID)
			if errors.Is(err, ErrCustomerErased) {
				if err := s.FinishDelivery(ctx, tenantID, endpointID, d.EventID, DeliveryDead, nil, "the customer was erased", time.Time{}); err != nil {
					return nil, err
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			if d.Payload, err = envelope.Open(dek, d.Payload, []byte("webhook-event:"+tenantID+":"+d.EventID)); err != nil {
				return nil, fmt.Errorf("open webhook event %s: %w", d.EventID, err)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// FinishDelivery records an attempt's outcome: delivered, dead, or (status
// pending) a failure to try again at next.
func (s *Store) FinishDelivery(ctx context.Context, tenantID, endpointID, eventID, status string, httpStatus *int, errText string, next time.Time) error {
	now := time.Now().UTC()
	changes := map[string]any{"status": status, "attempts": gorm.Expr("attempts + 1"), "last_status": httpStatus,
		"last_error": truncate(errText, 500), "first_attempt_at": gorm.Expr("coalesce(first_attempt_at, ?)", now)}
	switch status {
	case DeliveryDelivered:
		changes["delivered_at"] = now
	case DeliveryPending:
		changes["next_attempt_at"] = next
	}
	return s.db.WithContext(ctx).Table("webhook_deliveries").Where("tenant_id = ? AND endpoint_id = ? AND event_id = ?", tenantID, endpointID, eventID).
		Updates(changes).Error
}

// WebhookOutcome counts an attempt against the endpoint: a success clears
// its run of failures; a failure lengthens it, and when it reaches the
// endpoint's threshold the endpoint is disabled, audited, and the tenant's
// admins are notified. It says whether the endpoint was disabled now.
func (s *Store) WebhookOutcome(ctx context.Context, w Webhook, ok bool) (bool, error) {
	if ok {
		return false, s.db.WithContext(ctx).Model(&Webhook{}).Where("tenant_id = ? AND id = ? AND failures <> 0", w.TenantID, w.ID).
			Update("failures", 0).Error
	}
	disabled := false
	err := s.InTx(ctx, func(tx *Store) error {
		var failures int
		err := tx.db.WithContext(ctx).Raw(`UPDATE webhook_endpoints SET failures = failures + 1 WHERE tenant_id = ? AND id = ? AND enabled
			RETURNING failures`, w.TenantID, w.ID).Scan(&failures).Error
		if err != nil || failures < w.DisableAfter {
			return err
		}
		reason := "disabled after " + strconv.Itoa(failures) + " failed deliveries in a row"
		if err := tx.db.WithContext(ctx).Model(&Webhook{}).Where("tenant_id = ? AND id = ?", w.TenantID, w.ID).
			Updates(map[string]any{"enabled": false, "disabled_reason": reason}).Error; err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.db.WithContext(ctx).Exec(`INSERT INTO notifications (tenant_id, id, case_id, recipient, kind, subject_id, created_at)
			VALUES (?, ?, NULL, 'admin', 'webhook.disabled', ?, ?) ON CONFLICT DO NOTHING`,
			w.TenantID, "webhook.disabled:"+w.ID+":"+now.Format(time.RFC3339Nano), w.ID, now).Error; err != nil {
			return err
		}
		disabled = true
		return tx.AppendAuditEvent(ctx, AuditEvent{TenantID: w.TenantID, ID: "webhook.disabled:" + w.ID + ":" + now.Format(time.RFC3339Nano),
			OccurredAt: now, ActorKind: "system", ActorID: "tandem", Action: "webhook.disabled", ObjectType: "webhook", ObjectID: w.ID,
			Decision: "allow", Outcome: "success", Reason: "consecutive_failures", Details: `{"failures":"` + strconv.Itoa(failures) + `"}`})
	})
	return disabled, err
}

// Deliveries lists an endpoint's deliveries, newest first, optionally of
// one status, a page at a time.
func (s *Store) Deliveries(ctx context.Context, tenantID, endpointID, status string, beforeSeq int64, limit int) ([]Delivery, error) {
	q := `SELECT d.event_id, ev.type AS event_type, d.event_seq, d.case_id::text AS case_id, d.status, d.attempts,
			d.first_attempt_at, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, ev.occurred_at
		FROM webhook_deliveries d JOIN webhook_events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
		WHERE d.tenant_id = ? AND d.endpoint_id = ?`
	args := []any{tenantID, endpointID}
	if status != "" {
		q, args = q+` AND d.status = ?`, append(args, status)
	}
	if beforeSeq > 0 {
		q, args = q+` AND d.event_seq < ?`, append(args, beforeSeq)
	}
	out := []Delivery{}
	err := s.db.WithContext(ctx).Raw(q+` ORDER BY d.event_seq DESC LIMIT ?`, append(args, limit)...).Scan(&out).Error
	return out, err
}

// Redeliver puts a delivery back in line, to be sent at once.
func (s *Store) Redeliver(ctx context.Context, tenantID, endpointID, eventID string) error {
	res := s.db.WithContext(ctx).Table("webhook_deliveries").Where("tenant_id = ? AND endpoint_id = ? AND event_id = ?", tenantID, endpointID, eventID).
		Updates(map[string]any{"status": DeliveryPending, "attempts": 0, "first_attempt_at": nil, "next_attempt_at": time.Now().UTC(),
			"last_error": "", "delivered_at": nil})
	if res.Error != nil {
		return fmt.Errorf("redeliver: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("delivery")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// WebhookEventTypes are the events an endpoint may take.
var WebhookEventTypes = []string{"case.opened", "message.created", "note.created", "case.fields_changed", "case.escalated", "case.assigned", "case.waiting_on_customer",
	"case.resolved", "csat.requested", "case.closed", "sla.warning", "sla.breached", "refund.requested", "refund.decided", "refund.paid", "refund.failed"}

// KnownEventType says t is one of WebhookEventTypes.
func KnownEventType(t string) bool { return slices.Contains(WebhookEventTypes, t) }

// StreamEvent is an event as the live stream sends it.
type StreamEvent struct {
	Seq     int64
	ID      string
	Type    string
	Payload []byte // opened; nil once its customer was erased
}

// EventsAfter returns the tenant's events after position after, oldest
// first, that scope lets the caller see (nil: the whole tenant), with
// payloads opened. Events of cases the caller may not see are skipped but
// EventFilter is what a caller of the event stream may see: an agent's
// scope, a front end's channels, the one customer a request is bound to
// (nil: no such bound). Events of no case pass only a caller bound by none.
type EventFilter struct {
	Scope        *policies.AgentScope
	Channels     []string
	CustomerHash []byte
}

// eventsAfterSQL reads a tenant's events after a position, up to its first
// held one, by the (tenant_id, seq) index.
const eventsAfterSQL = `SELECT ev.seq, ev.id, ev.type, ev.payload, ev.key_id, ev.case_id::text AS case_id, c.assignee_id, c.queue,
		c.channel, c.customer_hash
	FROM webhook_events ev LEFT JOIN cases c ON c.tenant_id = ev.tenant_id AND c.id = ev.case_id
	WHERE ev.tenant_id = @tenant AND ev.seq > @after
		AND ev.seq < coalesce((SELECT min(seq) FROM webhook_events WHERE tenant_id = @tenant AND held), 9223372036854775807)
	ORDER BY ev.seq LIMIT @limit`

// move the position on (the last returned position is in next).
func (s *Store) EventsAfter(ctx context.Context, tenantID string, after int64, f EventFilter, limit int) (events []StreamEvent, next int64, err error) {
	var rows []struct {
		Seq          int64
		ID           string
		Type         string
		Payload      []byte
		KeyID        *string
		CaseID       *string
		AssigneeID   *string
		Queue        *string
		Channel      *string
		CustomerHash []byte
	}
	args := map[string]any{"tenant": tenantID, "after": after, "limit": limit}
	if err := s.db.WithContext(ctx).Raw(eventsAfterSQL, args).Scan(&rows).Error; err != nil {
		return nil, after, fmt.Errorf("events: %w", err)
	}
	next = after
	keys := map[string][]byte{}
	for _, r := range rows {
		next = r.Seq
		if f.Scope != nil && !f.Scope.Sees(deref(r.AssigneeID), deref(r.Queue)) ||
			f.Channels != nil && !slices.Contains(f.Channels, deref(r.Channel)) ||
			f.CustomerHash != nil && !bytes.Equal(f.CustomerHash, r.CustomerHash) {
			continue
		}
		e := StreamEvent{Seq: r.Seq, ID: r.ID, Type: r.Type, Payload: r.Payload}
		if r.KeyID != nil {
			dek, seen := keys[*r.KeyID]
			if !seen {
				if dek, err = s.DataKey(ctx, *r.KeyID); err != nil && !errors.Is(err, ErrCustomerErased) {
					return nil, after, err
				}
				keys[*r.KeyID] = dek
			}
			e.Payload = nil
			if dek != nil {
				if e.Payload, err = envelope.Open(dek, r.Payload, []byte("webhook-event:"+tenantID+":"+r.ID)); err != nil {
					return nil, after, fmt.Errorf("open event %s: %w", r.ID, err)
				}
			}
		}
		events = append(events, e)
	}
	return events, next, nil
}

// OldestEvent is the position of the tenant's oldest event still kept (0: none).
func (s *Store) OldestEvent(ctx context.Context, tenantID string) (int64, error) {
	var seq *int64
	err := s.db.WithContext(ctx).Raw(`SELECT min(seq) FROM webhook_events WHERE tenant_id = ?`, tenantID).Scan(&seq).Error
	if err != nil || seq == nil {
		return 0, err
	}
	return *seq, nil
}

// LatestEvent is the position of the tenant's newest event (0: none).
func (s *Store) LatestEvent(ctx context.Context, tenantID string) (int64, error) {
	var seq *int64
	err := s.db.WithContext(ctx).Raw(`SELECT max(seq) FROM webhook_events WHERE tenant_id = ?`, tenantID).Scan(&seq).Error
	if err != nil || seq == nil {
		return 0, err
	}
	return *seq, nil
}

// PruneEvents deletes events older than keep that no endpoint still owes,
// with their deliveries: the stream's backlog and the delivery history are
// bounded. It returns how many events went.
func (s *Store) PruneEvents(ctx context.Context, keep time.Duration) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(tx *Store) error {
		cutoff := time.Now().Add(-keep)
		old := `SELECT tenant_id, id FROM webhook_events ev WHERE occurred_at < ? AND NOT held AND NOT EXISTS (
			SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = ev.tenant_id AND d.event_id = ev.id AND d.status = 'pending')`
		if err := tx.db.WithContext(ctx).Exec(`DELETE FROM webhook_deliveries WHERE (tenant_id, event_id) IN (`+old+`)`, cutoff).Error; err != nil {
			return fmt.Errorf("prune deliveries: %w", err)
		}
		res := tx.db.WithContext(ctx).Exec(`DELETE FROM webhook_events WHERE (tenant_id, id) IN (`+old+`)`, cutoff)
		n = res.RowsAffected
		return res.Error
	})
	return n, err
}
