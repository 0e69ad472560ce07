package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"tandem/activities/envelope"
	"tandem/workflows"
)

// Message is one turn of a case's conversation. Body is held in clear only in
// memory; the row keeps it sealed under the customer's data key.
type Message struct {
	TenantID    string `gorm:"primaryKey"`
	CaseID      string `gorm:"primaryKey"`
	Seq         int64  `gorm:"primaryKey"`
	AuthorKind  string
	AuthorID    string
	Body        string  `gorm:"-"`
	Erased      bool    `gorm:"-"` // the customer's data key was destroyed
	LegacyBody  *string `gorm:"column:body"`
	BodyCT      []byte  `gorm:"column:body_ct"`
	KeyID       *string
	ClientKey   *string // the Idempotency-Key it was posted with
	Placeholder bool
	ArticleID   *string // the knowledge-base article of an AI answer
	// An AI answer's marks (workflows.Message).
	Model          *string
	ArticleVersion *int
	AIDisclosure   bool `gorm:"column:ai_disclosure"`
	// Internal marks a staff note; Mentions, the agents it names,
	// comma-separated (workflows.Message).
	Internal    bool
	Mentions    *string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	ProjGen     int64     // where in the workflow's history the row was written (see RecordCase)
	ProjEvent   int64
	Fingerprint []byte // HMAC of the message under the customer's data key
	// Attachments are the IDs of the uploads a message written carries;
	// Files, the attachments a message read went out with, opened.
	Attachments []string     `gorm:"-"`
	Files       []Attachment `gorm:"-"`
}

// writeMessages upserts msgs, keeping of two writes of a sequence the one
// at the later position, and returns the sequences whose stored content a
// later write replaced, and those written for the first time.
func writeMessages(ctx context.Context, db *gorm.DB, tenantID, caseID string, msgs []Message) (replaced, fresh []int64, err error) {
	if len(msgs) == 0 {
		return nil, nil, nil
	}
	var values strings.Builder
	args := []any{tenantID, caseID}
	seqs := make([]int64, 0, len(msgs))
	for i, m := range msgs {
		seqs = append(seqs, m.Seq)
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, m.TenantID, m.CaseID, m.Seq, m.AuthorKind, m.AuthorID, m.BodyCT, m.KeyID, m.ClientKey,
			m.Placeholder, m.ArticleID, m.Model, m.ArticleVersion, m.AIDisclosure, m.Internal, m.Mentions, m.CreatedAt,
			m.ProjGen, m.ProjEvent, m.Fingerprint)
	}
	args = append([]any{tenantID, caseID, seqs}, args[2:]...)
	var written []struct {
		Seq      int64
		Inserted bool
		Replaced bool
	}
	err = db.WithContext(ctx).Raw(`WITH old AS (
			SELECT seq, fingerprint FROM messages WHERE tenant_id = ? AND case_id = ? AND seq IN ?
		), written AS (
			INSERT INTO messages (tenant_id, case_id, seq, author_kind, author_id, body_ct, key_id, client_key,
				placeholder, article_id, model, article_version, ai_disclosure, internal, mentions, created_at, proj_gen, proj_event,
				fingerprint)
			VALUES `+values.String()+`
			ON CONFLICT (tenant_id, case_id, seq) DO UPDATE SET author_kind = excluded.author_kind,
				author_id = excluded.author_id, body = NULL, body_ct = excluded.body_ct, key_id = excluded.key_id,
				client_key = excluded.client_key, placeholder = excluded.placeholder, article_id = excluded.article_id,
				model = excluded.model, article_version = excluded.article_version, ai_disclosure = excluded.ai_disclosure,
				internal = excluded.internal, mentions = excluded.mentions, created_at = excluded.created_at, proj_gen = excluded.proj_gen, proj_event = excluded.proj_event,
				fingerprint = excluded.fingerprint
			WHERE (messages.proj_gen, messages.proj_event) <= (excluded.proj_gen, excluded.proj_event)
			RETURNING seq, fingerprint, xmax = 0 AS inserted
		)
		SELECT written.seq, written.inserted,
			coalesce(old.fingerprint IS NOT NULL AND old.fingerprint <> written.fingerprint, false) AS replaced
		FROM written LEFT JOIN old USING (seq) ORDER BY written.seq`, args...).Scan(&written).Error
	if err != nil {
		return nil, nil, fmt.Errorf("write messages: %w", err)
	}
	for _, w := range written {
		switch {
		case w.Replaced:
			replaced = append(replaced, w.Seq)
		case w.Inserted:
			fresh = append(fresh, w.Seq)
		}
	}
	return replaced, fresh, nil
}

// messageFingerprint identifies what a message says and who said it, keyed
// by the customer's data key so that it is shredded with the key.
func messageFingerprint(dek []byte, m Message) []byte {
	mac := hmac.New(sha256.New, dek)
	fields := []string{m.AuthorKind, m.AuthorID, m.Body, deref(m.ClientKey), strconv.FormatBool(m.Placeholder), deref(m.ArticleID)}
	if m.Internal { // a note's marks; a message's fingerprint stays as it always was
		fields = append(fields, "internal", deref(m.Mentions))
	}
	for _, f := range fields {
		mac.Write(binary.AppendUvarint(nil, uint64(len(f))))
		mac.Write([]byte(f))
	}
	return mac.Sum(nil)
}

func messageAAD(tenantID, caseID string, seq int64) []byte {
	return []byte("message:" + tenantID + ":" + caseID + ":" + strconv.FormatInt(seq, 10))
}

func (s *Store) openMessages(ctx context.Context, tenantID string, msgs []Message) error {
	var ids []string
	for _, m := range msgs {
		if m.KeyID != nil {
			ids = append(ids, *m.KeyID)
		}
	}
	keys, err := s.dataKeys(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.KeyID == nil:
			if m.LegacyBody != nil {
				m.Body = *m.LegacyBody
			}
		case keys[*m.KeyID] == nil || m.BodyCT == nil: // shredded, or purged
			m.Erased = true
		default:
			plain, err := envelope.Open(keys[*m.KeyID], m.BodyCT, messageAAD(m.TenantID, m.CaseID, m.Seq))
			if err != nil {
				return fmt.Errorf("open message %d of case %s: %w", m.Seq, m.CaseID, err)
			}
			m.Body = string(plain)
		}
	}
	return s.messageFiles(ctx, tenantID, msgs)
}

// ExchangeByClientKey returns the customer message posted with an
// Idempotency-Key and the reply recorded right after it, if there is one. Of
// rows carrying the key (one a lost workflow task wrote, one committed in its
// place) it takes the one at the later position. The API answers from it only
// for a closed case, whose records are final.
func (s *Store) ExchangeByClientKey(ctx context.Context, tenantID, caseID, key string) (Message, *Message, bool, error) {
	var seqs []int64
	err := s.db.WithContext(ctx).Raw(`SELECT seq FROM messages WHERE tenant_id = ? AND case_id = ? AND client_key = ? AND NOT internal
		ORDER BY proj_gen DESC, proj_event DESC, seq DESC LIMIT 1`, tenantID, caseID, key).Scan(&seqs).Error
	if err != nil {
		return Message{}, nil, false, fmt.Errorf("find message by key: %w", err)
	}
	if len(seqs) == 0 {
		return Message{}, nil, false, nil
	}
	msgs, err := s.MessagesBySeq(ctx, tenantID, caseID, seqs[0], seqs[0]+1)
	if err != nil || len(msgs) == 0 || msgs[0].Seq != seqs[0] {
		return Message{}, nil, false, err
	}
	if len(msgs) == 2 && msgs[1].AuthorKind != workflows.AuthorCustomer {
		return msgs[0], &msgs[1], true, nil
	}
	return msgs[0], nil, true, nil
}

// MessagesBySeq returns the case's messages with the given sequences, in order.
func (s *Store) MessagesBySeq(ctx context.Context, tenantID, caseID string, seqs ...int64) ([]Message, error) {
	var msgs []Message
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND seq IN ?", tenantID, caseID, seqs).
		Order("seq").Find(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	if err := s.openMessages(ctx, tenantID, msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

// CaseMessages returns up to limit of a case's messages after sequence
// after, in order, and whether more follow; with notes, the staff's notes
// among them.
func (s *Store) CaseMessages(ctx context.Context, tenantID, caseID string, after int64, limit int, notes bool) ([]Message, bool, error) {
	var msgs []Message
	q := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND seq > ?", tenantID, caseID, after)
	if !notes {
		q = q.Where("NOT internal")
	}
	err := q.Order("seq").Limit(limit + 1).Find(&msgs).Error
	if err != nil {
		return nil, false, fmt.Errorf("read messages: %w", err)
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	if err := s.openMessages(ctx, tenantID, msgs); err != nil {
		return nil, false, err
	}
	return msgs, more, nil
}

// LastMessages returns a case's last n messages, in order, without notes.
func (s *Store) LastMessages(ctx context.Context, tenantID, caseID string, n int) ([]Message, error) {
	var msgs []Message
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND NOT internal", tenantID, caseID).
		Order("seq DESC").Limit(n).Find(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	slices.Reverse(msgs)
	if err := s.openMessages(ctx, tenantID, msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

// MessageStats are a case's figures from its whole conversation.
type MessageStats struct {
	Customer     int64      // messages the customer wrote
	FirstAI      *time.Time // the first answer by the AI
	FirstAgent   *time.Time // the first reply by a person
	OpeningSeq   int64      // the customer's first message
	LastCustomer int64      // the customer's latest message
}

// CaseMessageStats counts and dates a case's conversation without reading it.
func (s *Store) CaseMessageStats(ctx context.Context, tenantID, caseID string) (MessageStats, error) {
	var out MessageStats
	err := s.db.WithContext(ctx).Raw(`SELECT
			count(*) FILTER (WHERE author_kind = @customer) AS customer,
			min(created_at) FILTER (WHERE author_kind = @ai) AS first_ai,
			min(created_at) FILTER (WHERE author_kind = @agent AND NOT internal) AS first_agent,
			coalesce(min(seq) FILTER (WHERE author_kind = @customer), 0) AS opening_seq,
			coalesce(max(seq) FILTER (WHERE author_kind = @customer), 0) AS last_customer
		FROM messages WHERE tenant_id = @t AND case_id = @c`,
		map[string]any{"t": tenantID, "c": caseID, "customer": workflows.AuthorCustomer, "ai": workflows.AuthorAI, "agent": workflows.AuthorAgent}).
		Scan(&out).Error
	if err != nil {
		return MessageStats{}, fmt.Errorf("message stats: %w", err)
	}
	return out, nil
}
