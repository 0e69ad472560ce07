// Package workflows holds Tandem's durable, deterministic process logic: the
// case workflow (case.go, with the AI turn, escalation, the SLA clock and
// routing beside it) and the refund saga (refund.go). Nothing here does I/O;
// side effects are activities, named here and implemented in package
// activities. This file names everything the API, the worker and the
// activities refer to; case_types.go and refund_types.go hold the payloads.
package workflows

// DefaultTaskQueue is the task queue the worker polls unless configured otherwise.
const DefaultTaskQueue = "tandem-cases"

// Workflow types, registered under these names.
const (
	CaseWorkflowName    = "CaseWorkflow"
	RefundWorkflowName  = "RefundWorkflow"
	WebhookWorkflowName = "WebhookWorkflow"
	BulkWorkflowName    = "BulkWorkflow"
)

// BulkWorkflowID is the workflow ID of a bulk action.
func BulkWorkflowID(tenantID, bulkID string) string {
	return "bulk:" + tenantID + ":" + bulkID
}

// CaseWorkflowID is the workflow ID of a case: one case, one workflow.
func CaseWorkflowID(tenantID, caseID string) string {
	return "case:" + tenantID + ":" + caseID
}

// WebhookWorkflowID is the workflow ID of a webhook endpoint's deliveries.
func WebhookWorkflowID(tenantID, endpointID string) string {
	return "webhook:" + tenantID + ":" + endpointID
}

// RefundWorkflowID is the workflow ID of a refund: one refund, one saga.
func RefundWorkflowID(tenantID, refundID string) string {
	return "refund:" + tenantID + ":" + refundID
}

// Update and query names of the case workflow.
const (
	// UpdatePostMessage adds a customer message and returns the reply.
	UpdatePostMessage = "post_message"
	// UpdateClose closes the case.
	UpdateClose = "close"
	// UpdateClaim gives a queued case to the agent who claims it first.
	UpdateClaim = "claim"
	// UpdateReply, UpdateRequestInfo, UpdateRelease and UpdateResolve are the
	// actions of the person who owns the case.
	UpdateReply       = "reply"
	UpdateRequestInfo = "request_info"
	UpdateRelease     = "release"
	UpdateResolve     = "resolve"
	// UpdateReassign gives the case to another agent (supervisors);
	// UpdateEscalate sends it to the supervisors' queue.
	UpdateReassign = "reassign"
	UpdateEscalate = "escalate"
	// UpdateAddNote adds a staff-only note to the case (NoteInput →
	// PostMessageResult): never shown to the customer, sent to front ends
	// or read by the AI.
	UpdateAddNote = "add_note"
	// UpdateSetFields tags the case and sets its custom fields (SetFieldsInput
	// → CaseState); the API has checked them against the tenant's schema.
	UpdateSetFields = "set_fields"
	// UpdateApplyMacro applies a macro the API has rendered: a reply, tags
	// and fields, then a status (ApplyMacroInput → PostMessageResult), as
	// one step of the case.
	UpdateApplyMacro = "apply_macro"
	// UpdateMergeInto closes the case as merged into another; UpdateMergeFrom
	// records that the case took another in (MergeInput).
	UpdateMergeInto = "merge_into"
	UpdateMergeFrom = "merge_from"
	// UpdateFeedback is the customer's verdict on an AI answer.
	UpdateFeedback = "feedback"
	// UpdateRequestRefund starts a refund's saga as a child of the case
	// (RequestRefundInput → RequestRefundResult).
	UpdateRequestRefund = "request_refund"
	// ActivityBulkPage applies a bulk action to the next page of its cases
	// (BulkInput → BulkPageResult); ActivityBulkFinish records its end
	// (BulkFinishInput). SignalBulkCancel stops it after the page it is on.
	ActivityBulkPage   = "BulkPage"
	ActivityBulkFinish = "BulkFinish"
	SignalBulkCancel   = "cancel"
	// QueryState returns CaseState.
	QueryState = "state"
	// QueryPolicy returns the case's pinned service policy (PinnedPolicy).
	QueryPolicy = "policy"
)

// SignalRefundFailed: a refund saga tells its case that the refund failed
// (RefundFailedSignal).
const SignalRefundFailed = "refund_failed"

// Update and query names of the refund saga.
const (
	UpdateRefundDecision = "decide" // a person approves or rejects a refund awaiting approval
	UpdateRefundAppeal   = "appeal" // the customer or an agent asks a person to review a rule's rejection
	QueryRefund          = "refund" // returns RefundState
)

// OpenUpdateID is the update ID of the message that opens a case, so that a
// repeated update-with-start runs the opening message once.
const OpenUpdateID = "open"

// MessageUpdateID is the update ID of a customer message sent with an
// idempotency key: the same key reaches the same update, which runs once.
func MessageUpdateID(idempotencyKey string) string {
	return "msg:" + idempotencyKey
}

// Activity names. The worker registers package activities under these names,
// so this package need not import anything that does I/O.
const (
	// ActivityRecordCase writes the case projection and new messages (RecordCaseInput).
	ActivityRecordCase = "RecordCase"
	// ActivityAITurn asks the AI layer to read and answer a customer message
	// (AITurnInput → AITurnResult).
	ActivityAITurn = "AITurn"
	// ActivityPickAgent chooses the agent to offer a queued case to
	// (PickAgentInput → PickAgentResult).
	ActivityPickAgent = "PickAgent"

	ActivityRequestRefund   = "RequestRefund"   // checks the order and records the request (RefundInput → RefundRequestResult)
	ActivitySetRefundStatus = "SetRefundStatus" // records a step: status, case timeline, notifications (RefundStatusInput)
	ActivityPayRefund       = "PayRefund"       // pays through the gateway, idempotent by key (PayRefundInput → PayRefundResult)
	ActivityPostLedger      = "PostLedger"      // writes the ledger movements, each once (PostLedgerInput)
	// ActivityDeliverWebhooks sends an endpoint's due deliveries for a while,
	// heartbeating (DeliverWebhooksInput → DeliverWebhooksResult).
	ActivityDeliverWebhooks = "DeliverWebhooks"
)

// Audited actions of the case workflow.
const (
	AuditCaseOpen        = "case.open"
	AuditCaseMessage     = "case.message"
	AuditCaseReply       = "case.reply"
	AuditCaseClose       = "case.close"
	AuditCaseEscalate    = "case.escalate"
	AuditCaseClaim       = "case.claim"
	AuditCaseRequestInfo = "case.request_info"
	AuditCaseRelease     = "case.release"
	AuditCaseResolve     = "case.resolve"
	AuditCaseReopen      = "case.reopen"
	AuditCaseReassign    = "case.reassign"
	AuditCaseFeedback    = "case.feedback"
	AuditCaseNote        = "case.note"
	AuditCaseFields      = "case.fields"
	AuditCaseMacro       = "case.macro"
	AuditCaseMergedFrom  = "case.merged_from"
	AuditCaseOffer       = "case.offer"
	AuditCaseOfferLapsed = "case.offer_lapsed"
	AuditSLAWarning      = "case.sla_warning"
	AuditSLABreach       = "case.sla_breach"
)

// Refund steps recorded on the case's timeline (audit actions). The request
// itself is recorded by the case (AuditRefundRequest).
const (
	AuditRefundRequest      = "refund.request"
	AuditRefundAwaiting     = "refund.awaiting_approval"
	AuditRefundOverdue      = "refund.approval_overdue"
	AuditRefundApprove      = "refund.approve"
	AuditRefundReject       = "refund.reject"
	AuditRefundAppeal       = "refund.appeal"
	AuditRefundAppealClosed = "refund.appeal_closed"
	AuditRefundPaid         = "refund.paid"
	AuditRefundIssued       = "refund.issued"
	AuditRefundFailed       = "refund.failed"
	// AuditRefundPaymentUnknown: the payment's outcome is unknown; finance is told.
	AuditRefundPaymentUnknown = "refund.payment_unknown"
)

// TimelineActions are the audited actions that change a case's state: its
// timeline (of replies, only people's: they move a case to in progress).
var TimelineActions = []string{AuditCaseOpen, AuditCaseReply, AuditCaseNote, AuditCaseFields, AuditCaseMacro, AuditCaseMergedFrom, AuditCaseEscalate, AuditCaseOffer, AuditCaseOfferLapsed, AuditCaseClaim,
	AuditCaseRequestInfo, AuditCaseRelease, AuditCaseReassign, AuditCaseFeedback, AuditCaseResolve, AuditCaseReopen,
	AuditCaseClose, AuditSLAWarning, AuditSLABreach,
	AuditRefundRequest, AuditRefundAwaiting, AuditRefundOverdue, AuditRefundApprove, AuditRefundReject, AuditRefundAppeal, AuditRefundAppealClosed,
	AuditRefundPaid, AuditRefundIssued, AuditRefundFailed, AuditRefundPaymentUnknown}

// Application error types the workflows return, mapped to HTTP by the API.
const (
	ErrTypeCaseClosed          = "CaseClosed"
	ErrTypeInvalidMessage      = "InvalidMessage"
	ErrTypeNotClaimable        = "NotClaimable"
	ErrTypeWrongState          = "WrongState"
	ErrTypeNotAnAnswer         = "NotAnAnswer"
	ErrTypeCaseFull            = "CaseFull"            // the case holds MaxMessagesPerCase messages
	ErrTypeNotInScope          = "NotInScope"          // the case is another channel's or customer's than the caller's
	ErrTypeFourEyes            = "FourEyes"            // a person may not decide a refund they requested or appealed
	ErrTypeNotAwaitingDecision = "NotAwaitingDecision" // a decision on a refund no person is asked to decide
	ErrTypeNotAppealable       = "NotAppealable"       // only a policy rule's rejection, inside the appeal window, may be appealed
	ErrTypeDeclined            = "Declined"            // the gateway refused the payment for good
	ErrTypeFieldsRequired      = "FieldsRequired"      // a resolution needs the tenant's required fields set
)
