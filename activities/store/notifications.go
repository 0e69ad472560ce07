package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"tandem/workflows"
	"time"

	"gorm.io/gorm"
)

// Notification is a message a channel gateway owes someone.
type Notification struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	Recipient string    `json:"recipient"`
	Kind      string    `json:"kind"`
	SubjectID string    `json:"subject_id"`
	CreatedAt time.Time `json:"created_at"`
}

// CaseNotifications lists the notifications about a case, oldest first.
func (s *Store) CaseNotifications(ctx context.Context, tenantID, caseID string) ([]Notification, error) {
	out := []Notification{}
	err := s.db.WithContext(ctx).Raw(`SELECT id, case_id::text AS case_id, recipient, kind, subject_id, created_at FROM notifications
		WHERE tenant_id = ? AND case_id = ? ORDER BY created_at, id`, tenantID, caseID).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("case notifications: %w", err)
	}
	return out, nil
}

// Audience is whom a caller delivers notifications to: recipients (the
// customer, or staff roles), and, for a front end bound to channels, the
// customers of those channels only.
type Audience struct {
	Recipients []string
	Channels   []string // nil: every channel
	// CustomerRef: only this customer's (a front end acting for the one
	// customer a signed assertion names); "": every customer.
	CustomerRef string
}

// clause narrows a query of notifications n to the audience's channels and customer.
func (s *Store) audienceClause(ctx context.Context, tenantID string, a Audience) (string, []any, error) {
	var sql string
	var args []any
	if a.Channels != nil {
		sql += ` AND EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = n.tenant_id AND c.id = n.case_id AND c.channel IN ?)`
		args = append(args, a.Channels)
	}
	if a.CustomerRef != "" {
		h, err := s.customerHash(ctx, tenantID, a.CustomerRef)
		if err != nil {
			return "", nil, err
		}
		sql += ` AND EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = n.tenant_id AND c.id = n.case_id AND c.customer_hash = ?)`
		args = append(args, h)
	}
	return sql, args, nil
}

// PendingNotifications lists a tenant's notifications not yet delivered,
// oldest first, a page at a time, with the next page's cursor.
func (s *Store) PendingNotifications(ctx context.Context, tenantID string, to Audience, cursor string, limit int) ([]Notification, string, error) {
	clause, clauseArgs, err := s.audienceClause(ctx, tenantID, to)
	if err != nil {
		return nil, "", err
	}
	q, args := `SELECT id, case_id::text AS case_id, recipient, kind, subject_id, created_at FROM notifications n
		WHERE tenant_id = ? AND recipient IN ? AND sent_at IS NULL`+clause, append([]any{tenantID, to.Recipients}, clauseArgs...)
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q, args = q+` AND (created_at, id) > (?, ?)`, append(args, at, id)
	}
	out := []Notification{}
	if err := s.db.WithContext(ctx).Raw(q+` ORDER BY created_at, id LIMIT ?`, append(args, limit+1)...).Scan(&out).Error; err != nil {
		return nil, "", fmt.Errorf("pending notifications: %w", err)
	}
	out, next := page(out, limit, func(n Notification) (time.Time, string) { return n.CreatedAt, n.ID })
	return out, next, nil
}

// MarkNotificationSent records that a notification was delivered. It says
// whether this call marked it (false: it was already marked, by an earlier
// call); ErrNotFound if the tenant has no such notification.
func (s *Store) MarkNotificationSent(ctx context.Context, tenantID string, to Audience, id string) (bool, error) {
	clause, clauseArgs, err := s.audienceClause(ctx, tenantID, to)
	if err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Exec(`UPDATE notifications n SET sent_at = ? WHERE tenant_id = ? AND recipient IN ? AND id = ? AND sent_at IS NULL`+clause,
		append([]any{time.Now().UTC(), tenantID, to.Recipients, id}, clauseArgs...)...)
	if res.Error != nil {
		return false, fmt.Errorf("mark notification sent: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	var n int64
	if err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM notifications n WHERE tenant_id = ? AND recipient IN ? AND id = ?`+clause,
		append([]any{tenantID, to.Recipients, id}, clauseArgs...)...).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("find notification: %w", err)
	}
	if n == 0 {
		return false, NotFound("notification")
	}
	return false, nil
}

// notifyMentions tells each agent a note mentions, once: the
// notification's ID is the note's and the agent's.
func notifyMentions(ctx context.Context, db *gorm.DB, c Case, msgs []Message) error {
	for _, m := range msgs {
		if !m.Internal || m.Mentions == nil {
			continue
		}
		for _, agent := range strings.Split(*m.Mentions, ",") {
			if err := db.WithContext(ctx).Exec(`INSERT INTO notifications (tenant_id, id, case_id, recipient, kind, subject_id, created_at)
				VALUES (?, ?, ?, ?, 'case.mentioned', ?, ?) ON CONFLICT DO NOTHING`,
				c.TenantID, fmt.Sprintf("mention:%s:%d:%s", c.ID, m.Seq, agent), c.ID, MentionRecipient(agent),
				"note:"+strconv.FormatInt(m.Seq, 10), m.CreatedAt).Error; err != nil {
				return fmt.Errorf("notify a mention: %w", err)
			}
		}
	}
	return nil
}

// MentionRecipient is the recipient of an agent's own notifications.
func MentionRecipient(agentID string) string { return "agent:" + agentID }

// requestSurveys asks the customer of a case just resolved, through their
// channel's gateway, to rate it: once per resolution (the ID is the
// resolution's audit entry's).
func requestSurveys(ctx context.Context, db *gorm.DB, c Case, written []AuditEvent) error {
	for _, e := range written {
		var d struct{ Then string }
		_ = json.Unmarshal([]byte(e.Details), &d) // appendAudit has checked it is JSON
		if e.Action != workflows.AuditCaseResolve && (e.Action != workflows.AuditCaseMacro || d.Then != workflows.MacroResolve) {
			continue
		}
		if err := db.WithContext(ctx).Exec(`INSERT INTO notifications (tenant_id, id, case_id, recipient, kind, subject_id, created_at)
			VALUES (?, ?, ?, 'customer', 'csat.requested', ?, ?) ON CONFLICT DO NOTHING`,
			c.TenantID, e.ID+":csat", c.ID, c.ID, e.OccurredAt).Error; err != nil {
			return fmt.Errorf("request a survey: %w", err)
		}
	}
	return nil
}
