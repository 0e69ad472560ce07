package api

import (
	"context"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
	"tandem/activities/consistency"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/policies/service"
)

// Records is what the HTTP surface reads and writes of the records, by
// job; *store.Store is the implementation. A handler test that is
// about HTTP (status codes, validation, pagination, what a role sees)
// gives the server a fake that answers the few methods it calls.
// Transactions hand their function the store itself (InTx), so handlers
// that compose writes are tested on the real stack.
type Records interface {
	consistency.Records // the drift check, GET /v1/admin/consistency
	payments.Books      // reconciliation, GET /v1/ledger/reconciliation
	PolicyRecords       // the stored authorization rules

	// cases and their conversations
	Ping(ctx context.Context) error
	InTx(ctx context.Context, fn func(tx *store.Store) error) error
	TenantExists(ctx context.Context, id string) (bool, error)
	GetCase(ctx context.Context, tenantID, caseID string) (store.Case, []store.Message, error)
	GetCaseRow(ctx context.Context, tenantID, caseID string) (store.Case, error)
	GetCaseRowSealed(ctx context.Context, tenantID, caseID string) (store.Case, error)
	ListCases(ctx context.Context, tenantID string, f store.ListFilter) ([]store.Case, string, error)
	SearchCases(ctx context.Context, tenantID, query string, f store.ListFilter) ([]store.Case, string, error)
	ExportCases(ctx context.Context, tenantID string, f store.ListFilter, each func(store.ExportRow) error) error
	CasesOf(ctx context.Context, tenantID, customerRef string) ([]store.Case, error)
	CaseMessages(ctx context.Context, tenantID, caseID string, after int64, limit int, notes bool) ([]store.Message, bool, error)
	CaseMessageStats(ctx context.Context, tenantID, caseID string) (store.MessageStats, error)
	LastMessages(ctx context.Context, tenantID, caseID string, n int) ([]store.Message, error)
	MessagesBySeq(ctx context.Context, tenantID, caseID string, seqs ...int64) ([]store.Message, error)
	ExchangeByClientKey(ctx context.Context, tenantID, caseID, key string) (store.Message, *store.Message, bool, error)
	ClaimIdempotencyKey(ctx context.Context, tenantID, key, requestHash, caseID string) (first bool, err error)
	UseUpdateKey(ctx context.Context, tenantID, caseID, updateID string) (time.Time, error)
	BindCaseKey(ctx context.Context, tenantID, customerRef, workflowID string) error
	BindChildKey(ctx context.Context, parentID, childID string) error
	CustomerHash(ctx context.Context, tenantID, customerRef string) ([]byte, error)
	CustomerHeld(ctx context.Context, tenantID, customerRef string) (bool, error)
	CaseStats(ctx context.Context, tenantID string, from, to time.Time) (store.Stats, error)
	ServicePolicy(ctx context.Context, tenantID string) (service.Policy, error)
	Retention(ctx context.Context, tenantID string) (*int, error)
	ListHolds(ctx context.Context, tenantID string) ([]store.LegalHold, error)

	// files
	AttachmentContent(ctx context.Context, tenantID, caseID, id string) (store.Attachment, io.ReadCloser, error)
	AttachmentsInternal(ctx context.Context, tenantID, caseID string, rows []store.Attachment) error
	CaseAttachments(ctx context.Context, tenantID, caseID string, ids []string) ([]store.Attachment, error)
	ClaimUploads(ctx context.Context, tenantID, caseID string, ids []string) ([]string, error)
	PutAttachment(ctx context.Context, c store.Case, a store.Attachment, data []byte) (store.Attachment, bool, error)

	// people and credentials
	AgentQueues(ctx context.Context, tenantID, agentID string) ([]string, error)
	GetAgent(ctx context.Context, tenantID, agentID string) (store.Agent, error)
	ListAgents(ctx context.Context, tenantID string) ([]store.Agent, error)
	AuthenticateAPIKey(ctx context.Context, token string) (store.APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error)
	TokenRevoked(ctx context.Context, tenantID, subject, jti string, issuedAt time.Time) (bool, error)
	RevokeToken(ctx context.Context, tenantID, jti, by string) error
	RevokeSubject(ctx context.Context, tenantID, subject, by string, now time.Time) error
	TOTPStatus(ctx context.Context, tenantID, subject string) (store.TOTPState, error)
	EnrolTOTP(ctx context.Context, tenantID, subject string) (string, error)
	ConfirmTOTP(ctx context.Context, tenantID, subject, code string, now time.Time) error
	VerifyTOTP(ctx context.Context, tenantID, subject, code string, now time.Time) error
	ResetWithin(ctx context.Context, tenantID, subject string, window time.Duration) (bool, error)

	// the audit log
	AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error)
	ListAudit(ctx context.Context, tenantID string, f store.AuditFilter) ([]store.AuditEvent, error)
	VerifyAudit(ctx context.Context, tenantID string, opts store.VerifyOptions) (store.Verification, error)
	LatestLogCheckpoint(ctx context.Context, tenantID string) (*auditlog.SignedCheckpoint, error)
	Cosigned(ctx context.Context, cp auditlog.SignedCheckpoint) (string, error)
	ProveConsistency(ctx context.Context, tenantID string, from, size int64) ([]tlog.Hash, error)
	ProveInclusion(ctx context.Context, tenantID string, seq, size int64) ([]tlog.Hash, error)

	// refunds
	CaseRefunds(ctx context.Context, tenantID, caseID string) ([]store.Refund, error)
	GetRefund(ctx context.Context, tenantID, id string) (store.Refund, error)
	ListRefunds(ctx context.Context, tenantID string, f store.RefundFilter) ([]store.Refund, string, error)
	RefundStatistics(ctx context.Context, tenantID string, from, to time.Time) (store.RefundStats, error)

	// events, webhooks and notifications
	EventsAfter(ctx context.Context, tenantID string, after int64, f store.EventFilter, limit int) (events []store.StreamEvent, next int64, err error)
	LatestEvent(ctx context.Context, tenantID string) (int64, error)
	OldestEvent(ctx context.Context, tenantID string) (int64, error)
	Webhooks(ctx context.Context, tenantID string) ([]store.Webhook, error)
	GetWebhook(ctx context.Context, tenantID, id string) (store.Webhook, error)
	WebhooksAllowPrivate(ctx context.Context, tenantID string) (bool, error)
	Deliveries(ctx context.Context, tenantID, endpointID, status string, beforeSeq int64, limit int) ([]store.Delivery, error)
	PendingNotifications(ctx context.Context, tenantID string, to store.Audience, cursor string, limit int) ([]store.Notification, string, error)
	MarkNotificationSent(ctx context.Context, tenantID string, to store.Audience, id string) (bool, error)

	// the staff's tools: fields, macros, articles, bulk actions
	CaseFields(ctx context.Context, tenantID string) ([]store.CaseField, error)
	Macro(ctx context.Context, tenantID, agentID, id string) (store.Macro, error)
	Macros(ctx context.Context, tenantID, agentID string) ([]store.Macro, error)
	CountMacroUse(ctx context.Context, tenantID, caseID, updateID, macroID string) error
	GetArticle(ctx context.Context, tenantID, id string) (store.Article, error)
	ListArticles(ctx context.Context, tenantID string, f store.ArticleFilter) ([]store.Article, string, error)
	BulkJob(ctx context.Context, tenantID, id string) (store.BulkJob, error)
	BulkItems(ctx context.Context, tenantID, id, status, after string, limit int) ([]store.BulkItem, error)
	SelectBulkCases(ctx context.Context, tenantID string, f store.ListFilter, ids []string) ([]string, error)
}
