package api

import (
	"context"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
	"tandem/activities/money"
	"tandem/activities/store"
	"tandem/policies/service"
)

// Records is what the HTTP surface reads and writes of the records, one
// method each; *store.Store is the implementation. A handler test that is
// about HTTP (status codes, validation, pagination, what a role sees)
// gives the server a fake that answers the few methods it calls.
// Transactions hand their function the store itself (InTx), so handlers
// that compose writes are tested on the real stack.
type Records interface {
	AgentQueues(ctx context.Context, tenantID string, agentID string) ([]string, error)
	AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error)
	AttachmentContent(ctx context.Context, tenantID string, caseID string, id string) (store.Attachment, io.ReadCloser, error)
	AttachmentsInternal(ctx context.Context, tenantID string, caseID string, rows []store.Attachment) error
	AuthenticateAPIKey(ctx context.Context, token string) (store.APIKey, error)
	BindCaseKey(ctx context.Context, tenantID string, customerRef string, workflowID string) error
	BindChildKey(ctx context.Context, parentID string, childID string) error
	BulkItems(ctx context.Context, tenantID string, id string, status string, after string, limit int) ([]store.BulkItem, error)
	BulkJob(ctx context.Context, tenantID string, id string) (store.BulkJob, error)
	CaseAttachments(ctx context.Context, tenantID string, caseID string, ids []string) ([]store.Attachment, error)
	CaseCustomerErased(ctx context.Context, tenantID string, caseID string) (bool, error)
	CaseFields(ctx context.Context, tenantID string) ([]store.CaseField, error)
	CaseMessageStats(ctx context.Context, tenantID string, caseID string) (store.MessageStats, error)
	CaseMessages(ctx context.Context, tenantID string, caseID string, after int64, limit int, notes bool) ([]store.Message, bool, error)
	CaseRecord(ctx context.Context, tenantID string, caseID string) (store.Case, error)
	CaseRefundIDs(ctx context.Context, tenantID string, caseID string) ([]string, error)
	CaseRefunds(ctx context.Context, tenantID string, caseID string) ([]store.Refund, error)
	CaseStats(ctx context.Context, tenantID string, from time.Time, to time.Time) (store.Stats, error)
	CasesOf(ctx context.Context, tenantID string, customerRef string) ([]store.Case, error)
	CasesToCheck(ctx context.Context, tenantID string, closedAfter time.Time, limit int) ([]store.Case, error)
	ClaimIdempotencyKey(ctx context.Context, tenantID string, key string, requestHash string, caseID string) (first bool, err error)
	ClaimUploads(ctx context.Context, tenantID string, caseID string, ids []string) ([]string, error)
	ClearingByRefund(ctx context.Context, tenantID string) (map[string]string, error)
	ConfirmTOTP(ctx context.Context, tenantID string, subject string, code string, now time.Time) error
	Cosigned(ctx context.Context, cp auditlog.SignedCheckpoint) (string, error)
	CountMacroUse(ctx context.Context, tenantID string, caseID string, updateID string, macroID string) error
	CustomerHash(ctx context.Context, tenantID string, customerRef string) ([]byte, error)
	CustomerHeld(ctx context.Context, tenantID string, customerRef string) (bool, error)
	Deliveries(ctx context.Context, tenantID string, endpointID string, status string, beforeSeq int64, limit int) ([]store.Delivery, error)
	EnrolTOTP(ctx context.Context, tenantID string, subject string) (string, error)
	EventsAfter(ctx context.Context, tenantID string, after int64, f store.EventFilter, limit int) (events []store.StreamEvent, next int64, err error)
	ExchangeByClientKey(ctx context.Context, tenantID string, caseID string, key string) (store.Message, *store.Message, bool, error)
	ExportCases(ctx context.Context, tenantID string, f store.ListFilter, each func(store.ExportRow) error) error
	GetAgent(ctx context.Context, tenantID string, agentID string) (store.Agent, error)
	GetArticle(ctx context.Context, tenantID string, id string) (store.Article, error)
	GetCase(ctx context.Context, tenantID string, caseID string) (store.Case, []store.Message, error)
	GetCaseRow(ctx context.Context, tenantID string, caseID string) (store.Case, error)
	GetCaseRowSealed(ctx context.Context, tenantID string, caseID string) (store.Case, error)
	GetRefund(ctx context.Context, tenantID string, id string) (store.Refund, error)
	GetWebhook(ctx context.Context, tenantID string, id string) (store.Webhook, error)
	HeldWrites(ctx context.Context, limit int) ([]store.HeldWrite, error)
	InTx(ctx context.Context, fn func(tx *store.Store) error) error
	LastMessages(ctx context.Context, tenantID string, caseID string, n int) ([]store.Message, error)
	LatestEvent(ctx context.Context, tenantID string) (int64, error)
	LatestLogCheckpoint(ctx context.Context, tenantID string) (*auditlog.SignedCheckpoint, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error)
	ListAgents(ctx context.Context, tenantID string) ([]store.Agent, error)
	ListArticles(ctx context.Context, tenantID string, f store.ArticleFilter) ([]store.Article, string, error)
	ListAudit(ctx context.Context, tenantID string, f store.AuditFilter) ([]store.AuditEvent, error)
	ListCases(ctx context.Context, tenantID string, f store.ListFilter) ([]store.Case, string, error)
	ListHolds(ctx context.Context, tenantID string) ([]store.LegalHold, error)
	ListRefunds(ctx context.Context, tenantID string, f store.RefundFilter) ([]store.Refund, string, error)
	Macro(ctx context.Context, tenantID string, agentID string, id string) (store.Macro, error)
	Macros(ctx context.Context, tenantID string, agentID string) ([]store.Macro, error)
	MarkNotificationSent(ctx context.Context, tenantID string, to store.Audience, id string) (bool, error)
	MessageCounts(ctx context.Context, tenantID string, caseID string, seq int64) (upTo int64, after []int64, err error)
	MessagesBySeq(ctx context.Context, tenantID string, caseID string, seqs ...int64) ([]store.Message, error)
	OldestEvent(ctx context.Context, tenantID string) (int64, error)
	PendingNotifications(ctx context.Context, tenantID string, to store.Audience, cursor string, limit int) ([]store.Notification, string, error)
	Ping(ctx context.Context) error
	PolicyRules(ctx context.Context) ([][]string, int64, error)
	PolicyVersion(ctx context.Context) (int64, error)
	ProjectionConflicts(ctx context.Context, tenantID string) (int64, error)
	ProveConsistency(ctx context.Context, tenantID string, from int64, size int64) ([]tlog.Hash, error)
	ProveInclusion(ctx context.Context, tenantID string, seq int64, size int64) ([]tlog.Hash, error)
	PutAttachment(ctx context.Context, c store.Case, a store.Attachment, data []byte) (store.Attachment, bool, error)
	RefundLedgers(ctx context.Context, tenantID string) ([]money.RefundBooks, error)
	RefundStatistics(ctx context.Context, tenantID string, from time.Time, to time.Time) (store.RefundStats, error)
	RefundsIn(ctx context.Context, tenantID string, statuses []string, before time.Time) ([]store.StuckRefund, error)
	ReleaseEvents(ctx context.Context, w store.HeldWrite) error
	RepairCase(ctx context.Context, c store.Case) ([]store.Conflict, error)
	ResetWithin(ctx context.Context, tenantID string, subject string, window time.Duration) (bool, error)
	Retention(ctx context.Context, tenantID string) (*int, error)
	RevokeSubject(ctx context.Context, tenantID string, subject string, by string, now time.Time) error
	RevokeToken(ctx context.Context, tenantID string, jti string, by string) error
	SearchCases(ctx context.Context, tenantID string, query string, f store.ListFilter) ([]store.Case, string, error)
	SelectBulkCases(ctx context.Context, tenantID string, f store.ListFilter, ids []string) ([]string, error)
	ServicePolicy(ctx context.Context, tenantID string) (service.Policy, error)
	TOTPStatus(ctx context.Context, tenantID string, subject string) (store.TOTPState, error)
	TenantExists(ctx context.Context, id string) (bool, error)
	TokenRevoked(ctx context.Context, tenantID string, subject string, jti string, issuedAt time.Time) (bool, error)
	TrialBalance(ctx context.Context, tenantID string) ([]money.AccountBalance, error)
	UseUpdateKey(ctx context.Context, tenantID string, caseID string, updateID string) (time.Time, error)
	VerifyAudit(ctx context.Context, tenantID string, opts store.VerifyOptions) (store.Verification, error)
	VerifyTOTP(ctx context.Context, tenantID string, subject string, code string, now time.Time) error
	VoidEvents(ctx context.Context, w store.HeldWrite) (int, error)
	Webhooks(ctx context.Context, tenantID string) ([]store.Webhook, error)
	WebhooksAllowPrivate(ctx context.Context, tenantID string) (bool, error)
}
