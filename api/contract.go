package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	yaml "go.yaml.in/yaml/v4"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/policies"
	"tandem/policies/service"
	"tandem/workflows"
)

// Endpoint is one route of the API: who may call it (a casbin object and
// action, and the step-up class it needs) and what it takes and gives. The
// router authorises by this table, and the OpenAPI contract
// (api/openapi.yaml) is made from it, so neither can leave the other behind.
type Endpoint struct {
	Method, Path string // the router's path: /v1/cases/:id
	// Handle serves the route; nil for the console's, which console.go
	// registers behind its session checks.
	Handle         func(*Server, *gin.Context) error
	Object, Action string // "" for the public probes
	StepUp         string // the action class a step-up token must cover; "": none
	Summary        string
	Query          []string    // query parameters
	Request        any         // a value of the body's type; nil: no body
	Status         int         // the success status
	Also           map[int]any // other statuses that are not errors, and their bodies (a retry's 200)
	Response       any         // a value of the success body's type; nil: none
	ContentTypes   []string    // a body that is not JSON (an export)
}

// anyOf documents a body that is one of several shapes (a front end's view
// or staff's).
type anyOf []any

// Bodies of the answers that wrap one record.
type (
	caseBody struct {
		Case CaseJSON `json:"case"`
	}
	caseMessageBody struct {
		Case    CaseJSON    `json:"case"`
		Message MessageJSON `json:"message"`
	}
	refundBody struct {
		Refund anyOf `json:"refund"`
	}
	refundsBody struct {
		Refunds anyOf `json:"refunds"`
	}
	agentBody struct {
		Agent store.Agent `json:"agent"`
	}
	agentsBody struct {
		Agents []store.Agent `json:"agents"`
	}
	apiKeysBody struct {
		APIKeys []store.APIKey `json:"api_keys"`
	}
	apiKeyBody struct {
		APIKey store.APIKey `json:"api_key"`
	}
	holdBody struct {
		LegalHold store.LegalHold `json:"legal_hold"`
	}
	holdsBody struct {
		LegalHolds []store.LegalHold `json:"legal_holds"`
	}
	articleBody struct {
		Article store.Article `json:"article"`
	}
	articlesBody struct {
		Articles   []store.Article `json:"articles"`
		NextCursor string          `json:"next_cursor"`
	}
	importBody struct {
		Imported int `json:"imported"`
	}
	searchBody struct {
		Result json.RawMessage `json:"result"`
	}
	policyBody struct {
		Policy service.Policy `json:"policy"`
	}
	rulesBody struct {
		Rules []PolicyRuleJSON `json:"rules"`
	}
	ruleBody struct {
		Rule PolicyRuleJSON `json:"rule"`
	}
	erasedBody struct {
		KeysDestroyed       int64 `json:"keys_destroyed"`
		CasesClosed         int   `json:"cases_closed"`
		WorkflowRunsDeleted int   `json:"workflow_runs_deleted"`
		WorkflowRunsRunning int   `json:"workflow_runs_running"`
	}
	sentBody struct {
		ID   string `json:"id"`
		Sent bool   `json:"sent"`
	}
	ratedBody struct {
		CaseID string `json:"case_id"`
		Score  int    `json:"score"`
	}
	confirmedBody struct {
		Confirmed bool `json:"confirmed"`
	}
	totpBody struct {
		TOTP json.RawMessage `json:"totp"`
	}
	enrolBody struct {
		OtpauthURL string `json:"otpauth_url"`
	}
	revokedBody struct {
		Revoked map[string]string `json:"revoked"`
	}
	healthBody struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks,omitempty"`
	}
	webhooksBody struct {
		Webhooks []store.Webhook `json:"webhooks"`
	}
	webhookBody struct {
		Webhook store.Webhook `json:"webhook"`
	}
	redeliveredBody struct {
		EventID string `json:"event_id"`
		Status  string `json:"status"`
	}
	policyOrProfile struct {
		Profile string `json:"profile,omitempty"`
	}
)

var pagedList = []string{"limit", "cursor"}

// Endpoints is every route of the API.
var Endpoints = []Endpoint{
	{Method: "GET", Path: "/healthz", Handle: (*Server).healthz, Summary: "liveness", Status: 200, Response: healthBody{}},
	{Method: "GET", Path: "/readyz", Handle: (*Server).readyz, Summary: "readiness: PostgreSQL and Temporal reachable (503 otherwise)", Status: 200, Response: healthBody{},
		Also: map[int]any{503: healthBody{}}},
	{Method: "GET", Path: "/openapi.json", Handle: (*Server).openAPI, Summary: "this contract", Status: 200, Response: json.RawMessage{}},
	{Method: "GET", Path: "/docs", Handle: (*Server).docsPage, Summary: "the API reference page", Status: 200, ContentTypes: []string{"text/html; charset=utf-8"}},

	// The console (console.go): its page, and people's sign-in with the
	// session cookie (its assets under /console/assets/ are files).
	{Method: "GET", Path: "/console", Summary: "the console: agents, supervisors and compliance officers in a browser", Status: 200, ContentTypes: []string{"text/html; charset=utf-8"}},
	{Method: "GET", Path: "/console/auth/methods", Summary: "how people may sign in here", Status: 200, Response: SignInMethods{}},
	{Method: "POST", Path: "/console/auth/dev", Summary: "sign in as a development user (make run only; 404 elsewhere); sets the session cookie",
		Request: DevSignInRequest{}, Status: 200, Response: Session{}},
	{Method: "GET", Path: "/console/auth/login", Summary: "sign in with the OpenID Connect provider (authorization code with PKCE)", Status: 302},
	{Method: "GET", Path: "/console/auth/callback", Summary: "the provider's answer; sets the session cookie", Query: []string{"code", "state", "error"}, Status: 303},
	{Method: "GET", Path: "/console/auth/session", Summary: "the session of the session cookie: who, tenant, roles, CSRF token, what the roles may do", Status: 200, Response: Session{}},
	{Method: "POST", Path: "/console/auth/logout", Summary: "end the session (X-CSRF-Token); its token is revoked", Status: 204},

	{Method: "POST", Path: "/v1/cases", Handle: (*Server).openCase, Object: "case", Action: "open", Summary: "open a case with the customer's first message; answers with the AI's reply (Idempotency-Key: a retry answers 200 with the same case)",
		Request: OpenCaseRequest{}, Status: 201, Also: map[int]any{200: ExchangeJSON{}}, Response: ExchangeJSON{}},
	{Method: "GET", Path: "/v1/cases", Handle: (*Server).listCases, Object: "case", Action: "list", Summary: "list cases, newest first; ?tag=a,b: with every tag; ?field.<name>=value: a custom field's value (not a text field's); ?from=&to=: opened within (RFC 3339); ?q=: staff search the conversations (messages, notes, subject) for cases holding every word, most used first",
		Query:  append([]string{"status", "queue", "customer_ref", "tag", "from", "to", "q"}, pagedList...),
		Status: 200, Response: CaseList{}},
	{Method: "GET", Path: "/v1/cases/export", Handle: (*Server).exportCases, Object: "case", Action: "export", Summary: "every case the filter passes, one row each, oldest first: NDJSON or CSV (?format=csv), streamed; ?include=conversation adds the customer, subject and messages for roles that may read them",
		Query: []string{"format", "status", "queue", "tag", "from", "to", "include"}, Status: 200, ContentTypes: []string{"application/x-ndjson", "text/csv; charset=utf-8"}},
	{Method: "GET", Path: "/v1/cases/:id", Handle: (*Server).getCase, Object: "case", Action: "read", Summary: "a case and a page of its conversation (a front end: the customer's view; staff: with the timeline)",
		Query: []string{"after", "limit"}, Status: 200, Response: anyOf{CustomerCase{}, CaseWithMessages{}}},
	{Method: "POST", Path: "/v1/cases/:id/messages", Handle: (*Server).postMessage, Object: "case", Action: "post_message", Summary: "the customer's message; answers with the AI's reply while the AI has the case",
		Request: PostMessageRequest{}, Status: 200, Response: ExchangeJSON{}},
	{Method: "POST", Path: "/v1/cases/:id/messages/:seq/feedback", Handle: (*Server).feedback, Object: "case", Action: "post_message", Summary: "the customer says whether an AI answer helped",
		Request: FeedbackRequest{}, Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/close", Handle: (*Server).closeCase, Object: "case", Action: "close", Summary: "close the case (reason: a code)", Request: CloseCaseRequest{}, Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/claim", Handle: (*Server).claimCase, Object: "case", Action: "claim", Summary: "claim a queued case", Status: 200, Response: caseBody{}},
	{Method: "GET", Path: "/v1/cases/:id/handoff", Handle: (*Server).handoff, Object: "case", Action: "claim", Summary: "the handoff: summary, reason, intent, sentiment, what the AI answered, a suggested reply", Status: 200, Response: HandoffJSON{}},
	{Method: "POST", Path: "/v1/cases/:id/reply", Handle: func(s *Server, c *gin.Context) error { return s.agentMessage(workflows.UpdateReply)(c) }, Object: "case", Action: "reply", Summary: "the owner's reply to the customer", Request: AgentMessageRequest{}, Status: 200, Response: caseMessageBody{}},
	{Method: "POST", Path: "/v1/cases/:id/request-info", Handle: func(s *Server, c *gin.Context) error { return s.agentMessage(workflows.UpdateRequestInfo)(c) }, Object: "case", Action: "reply", Summary: "ask the customer for information (the SLA pauses)", Request: AgentMessageRequest{}, Status: 200, Response: caseMessageBody{}},
	{Method: "POST", Path: "/v1/cases/:id/notes", Handle: (*Server).addNote, Object: "case", Action: "note", Summary: "a staff note: never the customer's, a front end's or the AI's; @agent-id mentions and notifies an agent",
		Request: PostMessageRequest{}, Status: 201, Response: NoteJSON{}},
	{Method: "POST", Path: "/v1/cases/:id/fields", Handle: (*Server).setCaseFields, Object: "case", Action: "set_fields", Summary: "tag the case and set its custom fields (null clears one), as the tenant's schema types them",
		Request: SetFieldsRequest{}, Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/macros/:macro", Handle: (*Server).applyMacro, Object: "case", Action: "reply", Summary: "apply a macro to the case you own: its reply (variables filled), tags and fields, then reply, ask or resolve, as one step",
		Request: ApplyMacroRequest{}, Status: 200, Response: AppliedMacro{}},
	{Method: "POST", Path: "/v1/cases/:id/merge", Handle: (*Server).mergeCase, Object: "case", Action: "merge", Summary: "merge this duplicate into another case of its customer: the other takes it in, this one closes as merged (messages to it: 409 case_merged with case_id)",
		Request: MergeRequest{}, Status: 200, Response: MergedBody{}},
	{Method: "POST", Path: "/v1/cases/:id/attachments", Handle: (*Server).uploadAttachment, Object: "case", Action: "attach",
		Summary: "upload a file (multipart/form-data, part file) for the next message, reply or note to carry (attachment_ids): an image (JPEG, PNG, GIF; its metadata stripped), a PDF or plain text, at most TANDEM_MAX_ATTACHMENT_BYTES (10 MiB); 415 for another type; stored sealed under the customer's key",
		Request: fileUpload{}, Status: 201, Also: map[int]any{200: AttachmentBody{}}, Response: AttachmentBody{}},
	{Method: "GET", Path: "/v1/cases/:id/attachments/:attachment", Handle: (*Server).downloadAttachment, Object: "case", Action: "read",
		Summary: "download a file of the case, as an attachment (a front end: those of the customer's view)", Status: 200,
		ContentTypes: AttachmentTypes},
	{Method: "POST", Path: "/v1/cases/:id/split", Handle: (*Server).splitCase, Object: "case", Action: "split", Summary: "start a new case of the same customer from chosen customer messages of this one (a note on each names the other)",
		Request: SplitRequest{}, Status: 201, Response: ExchangeJSON{}},
	{Method: "POST", Path: "/v1/cases/:id/release", Handle: (*Server).releaseCase, Object: "case", Action: "claim", Summary: "give the case back to its queue", Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/resolve", Handle: (*Server).resolveCase, Object: "case", Action: "resolve", Summary: "resolve with a resolution code", Request: ResolveRequest{}, Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/escalate", Handle: (*Server).escalateCase, Object: "case", Action: "resolve", Summary: "escalate to supervisors", Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/reassign", Handle: (*Server).reassignCase, Object: "case", Action: "reassign", Summary: "give the case to another agent or queue", Request: ReassignRequest{}, Status: 200, Response: caseBody{}},
	{Method: "POST", Path: "/v1/cases/:id/rating", Handle: (*Server).rateCase, Object: "case", Action: "rate", Summary: "the customer's satisfaction score, once resolved", Request: RatingRequest{}, Status: 200, Response: ratedBody{}},
	{Method: "POST", Path: "/v1/cases/:id/refunds", Handle: (*Server).requestRefund, Object: "refund", Action: "request", Summary: "ask for a refund or (staff) a compensation: the saga starts", Request: RefundRequest{}, Status: 202, Response: refundBody{}},
	{Method: "GET", Path: "/v1/cases/:id/refunds", Handle: (*Server).caseRefunds, Object: "refund", Action: "read", Summary: "the case's refunds as recorded", Status: 200, Response: refundsBody{}},
	{Method: "GET", Path: "/v1/refunds/:id", Handle: (*Server).getRefund, Object: "refund", Action: "read", Summary: "a refund as the caller may see it", Status: 200, Response: refundBody{}},
	{Method: "GET", Path: "/v1/refunds", Handle: (*Server).listRefunds, Object: "refund", Action: "list", Summary: "the tenant's refunds", Query: append([]string{"status"}, pagedList...), Status: 200, Response: RefundList{}},
	{Method: "POST", Path: "/v1/refunds/:id/decide", Handle: (*Server).decideRefund, Object: "refund", Action: "decide", Summary: "approve or reject a refund waiting for a person (four-eyes, limits per currency, step-up where the policy asks)",
		Request: RefundDecisionRequest{}, Status: 200, Response: refundBody{}},
	{Method: "POST", Path: "/v1/refunds/:id/appeal", Handle: (*Server).appealRefund, Object: "refund", Action: "appeal", Summary: "appeal a rejection by a policy rule", Request: RefundAppealRequest{}, Status: 200, Response: refundBody{}},
	{Method: "GET", Path: "/v1/ledger/reconciliation", Handle: (*Server).reconcile, Object: "ledger", Action: "reconcile", Summary: "the ledger against the payment gateway, and stuck refunds", Query: []string{"stuck_after"},
		Status: 200, Response: payments.Reconciliation{}},
	{Method: "GET", Path: "/v1/notifications", Handle: (*Server).pendingNotifications, Object: "notification", Action: "list", Summary: "notifications owed to the caller's audience, not yet sent", Query: pagedList, Status: 200, Response: NotificationList{}},
	{Method: "POST", Path: "/v1/notifications/:id/sent", Handle: (*Server).notificationSent, Object: "notification", Action: "ack", Summary: "the gateway delivered a notification", Status: 200, Response: sentBody{}},
	{Method: "GET", Path: "/v1/stats", Handle: (*Server).stats, Object: "stats", Action: "read", Summary: "the tenant's service statistics", Query: []string{"from", "to"}, Status: 200, Response: StatsJSON{}},
	{Method: "GET", Path: "/v1/queues/:queue/tasks", Handle: (*Server).queueTasks, Object: "queue", Action: "read", Summary: "a queue's cases waiting for a person", Query: pagedList, Status: 200, Response: CaseList{}},
	{Method: "GET", Path: "/v1/cases/:id/trail", Handle: (*Server).caseTrail, Object: "case", Action: "trail", Summary: "the case's audit trail in chain order, with the messages", Query: []string{"after", "limit"}, Status: 200, Response: CaseTrail{}},
	{Method: "GET", Path: "/v1/cases/:id/trail/export", Handle: (*Server).exportTrail, Object: "case", Action: "trail", StepUp: StepUpRecords, Summary: "the trail as signed NDJSON or CSV", Query: []string{"format"},
		Status: 200, ContentTypes: []string{"application/x-ndjson", "text/csv; charset=utf-8"}},
	{Method: "GET", Path: "/v1/audit/events", Handle: (*Server).listAuditEvents, Object: "audit", Action: "read", Summary: "the tenant's audit events", Query: []string{"case_id", "actor_id", "action", "from", "to", "after", "limit"},
		Status: 200, Response: AuditEventList{}},
	{Method: "GET", Path: "/v1/audit/verify", Handle: (*Server).verifyAudit, Object: "audit", Action: "verify", Summary: "verify the tenant's audit log against every checkpoint ever published (409 without a verify key)", Status: 200, Response: store.Verification{}},
	{Method: "GET", Path: "/v1/audit/checkpoint", Handle: (*Server).auditCheckpoint, Object: "audit", Action: "read", Summary: "the newest signed checkpoint of the tenant's audit log, with witnesses' cosignatures and a consistency proof from ?from=", Query: []string{"from"},
		Status: 200, Response: AuditCheckpointJSON{}},
	{Method: "GET", Path: "/v1/audit/events/:seq/proof", Handle: (*Server).auditProof, Object: "audit", Action: "read", Summary: "an audit entry's inclusion proof in the newest checkpoint (409 until one covers it)", Status: 200, Response: AuditProofJSON{}},
	{Method: "POST", Path: "/v1/customers/erase", Handle: (*Server).eraseCustomer, Object: "customer", Action: "erase", StepUp: StepUpRecords, Summary: "erase a customer (reason: a code)", Request: EraseCustomerRequest{}, Status: 200, Response: erasedBody{}},
	{Method: "GET", Path: "/v1/legal-holds", Handle: (*Server).listHolds, Object: "legal_hold", Action: "read", Summary: "legal holds, active first", Status: 200, Response: holdsBody{}},
	{Method: "POST", Path: "/v1/legal-holds", Handle: (*Server).placeHold, Object: "legal_hold", Action: "manage", StepUp: StepUpRecords, Summary: "hold a case or a customer (reason: a code)", Request: PlaceHoldRequest{}, Status: 201, Response: holdBody{}},
	{Method: "DELETE", Path: "/v1/legal-holds/:id", Handle: (*Server).releaseHold, Object: "legal_hold", Action: "manage", StepUp: StepUpRecords, Summary: "release a hold", Status: 200, Response: holdBody{}},
	{Method: "GET", Path: "/v1/agents", Handle: (*Server).listAgents, Object: "agent", Action: "list", Summary: "the tenant's agents", Status: 200, Response: agentsBody{}},
	{Method: "GET", Path: "/v1/agents/:id", Handle: (*Server).getAgent, Object: "agent", Action: "read", Summary: "an agent", Status: 200, Response: agentBody{}},
	{Method: "PUT", Path: "/v1/agents/:id/availability", Handle: (*Server).setAvailability, Object: "agent", Action: "set_availability", Summary: "an agent's status, capacity and languages", Request: AvailabilityRequest{}, Status: 200, Response: agentBody{}},
	{Method: "PUT", Path: "/v1/agents/:id/queues", Handle: (*Server).setQueues, Object: "agent", Action: "set_queues", Summary: "an agent's queues", Request: QueuesRequest{}, Status: 200, Response: agentBody{}},
	{Method: "GET", Path: "/v1/kb/articles", Handle: (*Server).listArticles, Object: "kb", Action: "read", Summary: "knowledge-base articles", Query: append([]string{"locale", "intent"}, pagedList...), Status: 200, Response: articlesBody{}},
	{Method: "GET", Path: "/v1/kb/articles/:id", Handle: (*Server).getArticle, Object: "kb", Action: "read", Summary: "an article", Status: 200, Response: articleBody{}},
	{Method: "GET", Path: "/v1/kb/search", Handle: (*Server).searchKB, Object: "kb", Action: "read", Summary: "what the AI would answer to a question", Query: []string{"q", "locale"}, Status: 200, Response: searchBody{}},
	{Method: "POST", Path: "/v1/kb/articles", Handle: (*Server).createArticle, Object: "kb", Action: "manage", Summary: "add an article", Request: ArticleRequest{}, Status: 201, Response: articleBody{}},
	{Method: "PUT", Path: "/v1/kb/articles/:id", Handle: (*Server).updateArticle, Object: "kb", Action: "manage", Summary: "change an article (a new version)", Request: ArticleRequest{}, Status: 200, Response: articleBody{}},
	{Method: "POST", Path: "/v1/kb/articles/:id/publish", Handle: func(s *Server, c *gin.Context) error { return s.publishArticle(true)(c) }, Object: "kb", Action: "manage", Summary: "publish an article", Status: 200, Response: articleBody{}},
	{Method: "POST", Path: "/v1/kb/articles/:id/unpublish", Handle: func(s *Server, c *gin.Context) error { return s.publishArticle(false)(c) }, Object: "kb", Action: "manage", Summary: "withdraw an article", Status: 200, Response: articleBody{}},
	{Method: "POST", Path: "/v1/kb/import", Handle: (*Server).importArticles, Object: "kb", Action: "manage", Summary: "import articles, one JSON object a line", Request: ArticleRequest{}, Status: 200, Response: importBody{}},
	{Method: "GET", Path: "/v1/admin/service-policy", Handle: (*Server).getServicePolicy, Object: "service_policy", Action: "read", Summary: "the tenant's service policy", Status: 200, Response: policyBody{}},
	{Method: "PUT", Path: "/v1/admin/service-policy", Handle: (*Server).setServicePolicy, Object: "service_policy", Action: "manage", StepUp: StepUpAccess, Summary: "set the service policy: a profile's name or a whole policy",
		Request: anyOf{policyOrProfile{}, service.Policy{}}, Status: 200, Response: policyBody{}},
	{Method: "GET", Path: "/v1/admin/consistency", Handle: func(s *Server, c *gin.Context) error { return s.checkConsistency(false)(c) }, Object: "consistency", Action: "read", Summary: "each open case's record against its workflow", Status: 200, Response: json.RawMessage{}},
	{Method: "POST", Path: "/v1/admin/consistency/repair", Handle: func(s *Server, c *gin.Context) error { return s.checkConsistency(true)(c) }, Object: "consistency", Action: "repair", Summary: "repair records from their workflows", Status: 200, Response: json.RawMessage{}},
	{Method: "GET", Path: "/v1/admin/retention", Handle: (*Server).getRetention, Object: "retention", Action: "read", Summary: "the retention period", Status: 200, Response: RetentionJSON{}},
	{Method: "PUT", Path: "/v1/admin/retention", Handle: (*Server).setRetention, Object: "retention", Action: "manage", StepUp: StepUpRecords, Summary: "set the retention period", Request: RetentionJSON{}, Status: 200, Response: RetentionJSON{}},
	{Method: "GET", Path: "/v1/admin/policies", Handle: (*Server).listPolicies, Object: "policy", Action: "read", Summary: "the access rules in force for the tenant", Status: 200, Response: rulesBody{}},
	{Method: "POST", Path: "/v1/admin/policies", Handle: func(s *Server, c *gin.Context) error { return s.changePolicy(true)(c) }, Object: "policy", Action: "manage", StepUp: StepUpAccess, Summary: "add a tenant rule (one already there answers 200)", Request: PolicyGrant{}, Status: 201, Also: map[int]any{200: ruleBody{}}, Response: ruleBody{}},
	{Method: "DELETE", Path: "/v1/admin/policies", Handle: func(s *Server, c *gin.Context) error { return s.changePolicy(false)(c) }, Object: "policy", Action: "manage", StepUp: StepUpAccess, Summary: "remove a tenant rule", Request: PolicyGrant{}, Status: 200, Response: ruleBody{}},
	{Method: "GET", Path: "/v1/admin/api-keys", Handle: (*Server).listAPIKeys, Object: "api_key", Action: "manage", Summary: "the tenant's API keys", Status: 200, Response: apiKeysBody{}},
	{Method: "POST", Path: "/v1/admin/api-keys", Handle: (*Server).createAPIKey, Object: "api_key", Action: "manage", StepUp: StepUpAccess, Summary: "make a front end's key (its secret is shown once)", Request: CreateAPIKeyRequest{}, Status: 201, Response: CreatedAPIKey{}},
	{Method: "DELETE", Path: "/v1/admin/api-keys/:id", Handle: (*Server).revokeAPIKey, Object: "api_key", Action: "manage", StepUp: StepUpAccess, Summary: "revoke a key", Status: 200, Response: apiKeyBody{}},
	{Method: "GET", Path: "/v1/events", Handle: (*Server).eventStream, Object: "event", Action: "stream", Summary: "the live stream of events (Server-Sent Events; Last-Event-ID resumes), as the caller may see them",
		Query: []string{"after"}, Status: 200, ContentTypes: []string{"text/event-stream"}},
	{Method: "POST", Path: "/v1/bulk", Handle: (*Server).startBulk, Object: "bulk", Action: "run", Summary: "close, reassign or set fields of up to 10,000 open cases (a list or a filter), as a workflow: each case changed once, at a bounded rate; Idempotency-Key names it",
		Request: BulkRequest{}, Status: 202, Response: BulkBody{}},
	{Method: "GET", Path: "/v1/bulk/:id", Handle: (*Server).getBulk, Object: "bulk", Action: "read", Summary: "where a bulk action stands (counts by outcome) and a page of its cases", Query: []string{"status", "after", "limit"}, Status: 200, Response: BulkBody{}},
	{Method: "POST", Path: "/v1/bulk/:id/cancel", Handle: (*Server).cancelBulk, Object: "bulk", Action: "run", Summary: "stop a bulk action after its current page; the cases it has not reached are cancelled", Status: 202, Response: BulkBody{}},
	{Method: "GET", Path: "/v1/macros", Handle: (*Server).listMacros, Object: "macro", Action: "read", Summary: "the macros you may apply: the tenant's and your own, with their uses", Status: 200, Response: MacroList{}},
	{Method: "POST", Path: "/v1/macros", Handle: (*Server).createMacro, Object: "macro", Action: "write", Summary: "a macro: the tenant's (admins) or your own (personal)", Request: MacroRequest{}, Status: 201, Response: MacroBody{}},
	{Method: "PUT", Path: "/v1/macros/:id", Handle: (*Server).updateMacro, Object: "macro", Action: "write", Summary: "change a macro (the tenant's: admins; personal: yours)", Request: MacroRequest{}, Status: 200, Response: MacroBody{}},
	{Method: "DELETE", Path: "/v1/macros/:id", Handle: (*Server).deleteMacro, Object: "macro", Action: "write", Summary: "remove a macro (?personal=true: your own)", Query: []string{"personal"}, Status: 204},
	{Method: "GET", Path: "/v1/admin/case-fields", Handle: (*Server).caseFields, Object: "case_field", Action: "read", Summary: "the tenant's custom fields of cases", Status: 200, Response: CaseFieldList{}},
	{Method: "PUT", Path: "/v1/admin/case-fields/:name", Handle: (*Server).putCaseField, Object: "case_field", Action: "manage", Summary: "define a custom field (its type, whether resolving needs it, an enum's options, who may set it)",
		Request: CaseFieldRequest{}, Status: 200, Also: map[int]any{201: CaseFieldBody{}}, Response: CaseFieldBody{}},
	{Method: "DELETE", Path: "/v1/admin/case-fields/:name", Handle: (*Server).deleteCaseField, Object: "case_field", Action: "manage", Summary: "remove a custom field from the schema (cases keep their values)", Status: 204},
	{Method: "GET", Path: "/v1/admin/webhooks", Handle: (*Server).listWebhooks, Object: "webhook", Action: "read", Summary: "the tenant's webhook endpoints", Status: 200, Response: webhooksBody{}},
	{Method: "POST", Path: "/v1/admin/webhooks", Handle: (*Server).createWebhook, Object: "webhook", Action: "manage", StepUp: StepUpAccess, Summary: "register an endpoint for event types (its secret is shown once)",
		Request: WebhookRequest{}, Status: 201, Response: CreatedWebhook{}},
	{Method: "GET", Path: "/v1/admin/webhooks/:id", Handle: (*Server).getWebhook, Object: "webhook", Action: "read", Summary: "an endpoint", Status: 200, Response: webhookBody{}},
	{Method: "PATCH", Path: "/v1/admin/webhooks/:id", Handle: (*Server).updateWebhook, Object: "webhook", Action: "manage", StepUp: StepUpAccess, Summary: "change an endpoint: URL, event types, threshold, enabled",
		Request: WebhookRequest{}, Status: 200, Response: webhookBody{}},
	{Method: "DELETE", Path: "/v1/admin/webhooks/:id", Handle: (*Server).deleteWebhook, Object: "webhook", Action: "manage", StepUp: StepUpAccess, Summary: "remove an endpoint", Status: 204},
	{Method: "POST", Path: "/v1/admin/webhooks/:id/rotate-secret", Handle: (*Server).rotateWebhookSecret, Object: "webhook", Action: "manage", StepUp: StepUpAccess,
		Summary: "a new secret (shown once); the old one signs too for 24 hours", Status: 200, Response: CreatedWebhook{}},
	{Method: "GET", Path: "/v1/admin/webhooks/:id/deliveries", Handle: (*Server).listDeliveries, Object: "webhook", Action: "read", Summary: "an endpoint's deliveries, newest first (dead: the dead-letter list)",
		Query: []string{"status", "before", "limit"}, Status: 200, Response: DeliveryList{}},
	{Method: "POST", Path: "/v1/admin/webhooks/:id/deliveries/:event/redeliver", Handle: (*Server).redeliver, Object: "webhook", Action: "manage", Summary: "send a delivery again",
		Status: 200, Response: redeliveredBody{}},
	{Method: "POST", Path: "/v1/auth/totp/enrol", Handle: (*Server).enrolTOTP, Object: "self", Action: "mfa", Summary: "enrol a second factor (a fresh sign-in, or after an admin's reset)", Status: 201, Response: enrolBody{}},
	{Method: "POST", Path: "/v1/auth/totp/confirm", Handle: (*Server).confirmTOTP, Object: "self", Action: "mfa", Summary: "confirm the factor with a code", Request: TOTPCodeRequest{}, Status: 200, Response: confirmedBody{}},
	{Method: "POST", Path: "/v1/auth/step-up", Handle: (*Server).stepUp, Object: "self", Action: "mfa", Summary: "a step-up token for action classes", Request: StepUpRequest{}, Status: 200, Response: StepUpToken{}},
	{Method: "GET", Path: "/v1/admin/totp/:subject", Handle: (*Server).totpStatus, Object: "mfa", Action: "read", Summary: "a person's second factor and lockout", Status: 200, Response: totpBody{}},
	{Method: "POST", Path: "/v1/admin/tokens/revoke", Handle: (*Server).revokeToken, Object: "token", Action: "revoke", Summary: "revoke a token by jti, or a person's tokens", Request: RevokeTokenRequest{}, Status: 200, Response: revokedBody{}},
	{Method: "DELETE", Path: "/v1/admin/totp/:subject", Handle: (*Server).resetTOTP, Object: "mfa", Action: "reset", StepUp: StepUpAccess, Summary: "reset a person's second factor", Status: 204},
}

// endpointFor finds a route's row.
func endpointFor(method, path string) (Endpoint, bool) {
	i := slices.IndexFunc(Endpoints, func(e Endpoint) bool { return e.Method == method && e.Path == path })
	if i < 0 {
		return Endpoint{}, false
	}
	return Endpoints[i], true
}

// Contract builds the OpenAPI 3.1 document from Endpoints and the default
// access rules (the roles each endpoint allows, before a tenant's own).
func Contract() (*openapi3.T, error) {
	rules, err := policies.DefaultRules()
	if err != nil {
		return nil, err
	}
	authz, err := policies.NewAuthorizer()
	if err != nil {
		return nil, err
	}
	if err := authz.Load(rules); err != nil {
		return nil, err
	}
	doc := &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{Title: "Tandem", Version: "1",
			Description: "Customer service in which AI and people work in tandem. Every error is {\"error\":{\"code\",\"message\",\"fields\"}}; " +
				"the codes are in docs/api.md. A dependency down is 503 with Retry-After."},
		Servers:    openapi3.Servers{{URL: "/", Description: "the server that serves this document"}},
		Paths:      openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: openapi3.Schemas{}, SecuritySchemes: openapi3.SecuritySchemes{}},
	}
	doc.Components.SecuritySchemes["bearer"] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
		Type: "http", Scheme: "bearer", Description: "a person's JWT, or a front end's API key (tdm_…)"}}
	r := &reflector{schemas: doc.Components.Schemas}
	errSchema := r.schema(reflect.TypeOf(errorBody{}))
	for _, e := range Endpoints {
		op := &openapi3.Operation{Summary: e.Summary, OperationID: operationID(e), Responses: openapi3.NewResponses()}
		op.Responses.Delete("default")
		op.Security = &openapi3.SecurityRequirements{} // public: no credential
		if e.Object != "" {
			op.Security = &openapi3.SecurityRequirements{{"bearer": []string{}}}
			roles := rolesAllowed(authz, e.Object, e.Action)
			op.Extensions = map[string]any{"x-roles": roles, "x-authorization": e.Object + ":" + e.Action}
			op.Description = "Roles (default rules): " + strings.Join(roles, ", ") + "."
			if e.StepUp != "" {
				op.Extensions["x-step-up"] = e.StepUp
				op.Description += " Needs a step-up token for " + e.StepUp + "."
			}
		}
		for _, p := range pathParams(e.Path) {
			op.AddParameter(&openapi3.Parameter{Name: p, In: "path", Required: true, Schema: openapi3.NewStringSchema().NewRef()})
		}
		for _, q := range e.Query {
			op.AddParameter(&openapi3.Parameter{Name: q, In: "query", Schema: openapi3.NewStringSchema().NewRef()})
		}
		if e.Method == http.MethodPost && e.Object != "" {
			op.AddParameter(&openapi3.Parameter{Name: "Idempotency-Key", In: "header", Schema: openapi3.NewStringSchema().NewRef()})
		}
		switch e.Request.(type) {
		case nil:
		case fileUpload:
			file := openapi3.NewObjectSchema().WithProperty("file", openapi3.NewStringSchema().WithFormat("binary"))
			file.Required = []string{"file"}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithContent(openapi3.NewContentWithFormDataSchema(file))}
		default:
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithJSONSchemaRef(r.schemaOf(e.Request))}
		}
		ok := openapi3.NewResponse().WithDescription(http.StatusText(e.Status))
		switch {
		case e.Response != nil:
			ok.WithJSONSchemaRef(r.schemaOf(e.Response))
		case len(e.ContentTypes) > 0:
			ok.Content = openapi3.Content{}
			for _, ct := range e.ContentTypes {
				ok.Content[ct] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())
			}
		}
		op.AddResponse(e.Status, ok)
		for _, code := range slices.Sorted(maps.Keys(e.Also)) {
			op.AddResponse(code, openapi3.NewResponse().WithDescription(http.StatusText(code)).WithJSONSchemaRef(r.schemaOf(e.Also[code])))
		}
		op.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription("an error: 4xx for the request, 503 with Retry-After for a dependency down").WithJSONSchemaRef(errSchema)})
		doc.AddOperation(openAPIPath(e.Path), e.Method, op)
	}
	return doc, nil
}

// ContractYAML is the contract as committed in api/openapi.yaml.
func ContractYAML() ([]byte, error) {
	doc, err := Contract()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return yaml.Marshal(v)
}

// errorBody is the shape of every error answer.
type errorBody struct {
	Error Error `json:"error"`
}

// rolesAllowed: the roles the default rules let do act on obj in any tenant.
func rolesAllowed(authz *policies.Authorizer, obj, act string) []string {
	var roles []string
	for _, role := range policies.Roles {
		if ok, _ := authz.Allowed([]string{role}, "any-tenant", obj, act); ok {
			roles = append(roles, role)
		}
	}
	return roles
}

func operationID(e Endpoint) string {
	id := strings.ToLower(e.Method) + strings.NewReplacer("/v1/", "_", "/", "_", ":", "", "-", "_").Replace(e.Path)
	return strings.Trim(id, "_")
}

func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if p, ok := strings.CutPrefix(seg, ":"); ok {
			out = append(out, p)
		}
	}
	return out
}

// openAPIPath turns /v1/cases/:id into /v1/cases/{id}.
func openAPIPath(path string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if p, ok := strings.CutPrefix(seg, ":"); ok {
			segs[i] = "{" + p + "}"
		}
	}
	return strings.Join(segs, "/")
}

// reflector makes JSON schemas of Go types as encoding/json writes them.
type reflector struct {
	schemas openapi3.Schemas
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	rawType       = reflect.TypeOf(json.RawMessage{})
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	anyOfType     = reflect.TypeOf(anyOf{})
)

func (r *reflector) schemaOf(v any) *openapi3.SchemaRef {
	if alts, ok := v.(anyOf); ok {
		s := &openapi3.Schema{}
		for _, a := range alts {
			s.AnyOf = append(s.AnyOf, r.schemaOf(a))
		}
		return s.NewRef()
	}
	return r.schema(reflect.TypeOf(v))
}

func nullable(s *openapi3.Schema) *openapi3.Schema {
	if s.Type != nil && !s.Type.Includes("null") {
		t := append(openapi3.Types{}, *s.Type...)
		s.Type = &t
		*s.Type = append(*s.Type, "null")
	}
	return s
}

func (r *reflector) schema(t reflect.Type) *openapi3.SchemaRef {
	switch {
	case t == timeType:
		return openapi3.NewDateTimeSchema().NewRef()
	case t == rawType, t == anyOfType:
		return (&openapi3.Schema{}).NewRef()
	case t.Kind() != reflect.Pointer && t.Implements(marshalerType), reflect.PointerTo(t).Implements(marshalerType) && t.Kind() == reflect.Struct:
		return (&openapi3.Schema{Description: "as " + t.String() + " writes itself"}).NewRef()
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := r.schema(t.Elem())
		if inner.Ref != "" {
			return (&openapi3.Schema{AnyOf: openapi3.SchemaRefs{inner, (&openapi3.Schema{Type: &openapi3.Types{"null"}}).NewRef()}}).NewRef()
		}
		return nullable(inner.Value).NewRef()
	case reflect.String:
		return openapi3.NewStringSchema().NewRef()
	case reflect.Bool:
		return openapi3.NewBoolSchema().NewRef()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return openapi3.NewIntegerSchema().NewRef()
	case reflect.Float32, reflect.Float64:
		return openapi3.NewFloat64Schema().NewRef()
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nullable(openapi3.NewBytesSchema()).NewRef() // base64
		}
		s := openapi3.NewArraySchema()
		s.Items = r.schema(t.Elem()) // a named type's is a reference: a generator types the list by it
		return nullable(s).NewRef()
	case reflect.Map:
		s := openapi3.NewObjectSchema()
		s.AdditionalProperties = openapi3.AdditionalProperties{Schema: r.schema(t.Elem())}
		return nullable(s).NewRef()
	case reflect.Struct:
		return r.structSchema(t)
	}
	return (&openapi3.Schema{}).NewRef() // an interface: anything
}

func (r *reflector) structSchema(t reflect.Type) *openapi3.SchemaRef {
	name := ""
	if t.Name() != "" && t.PkgPath() != "" {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		name = pkg + "." + t.Name()
		if _, done := r.schemas[name]; done {
			return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
		}
		r.schemas[name] = nil // a type that contains itself refers to itself
	}
	s := openapi3.NewObjectSchema()
	r.fields(t, s)
	if name == "" {
		return s.NewRef()
	}
	r.schemas[name] = s.NewRef()
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
}

func (r *reflector) fields(t reflect.Type, s *openapi3.Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				r.fields(ft, s)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		var prop *openapi3.SchemaRef
		if slices.Contains(strings.Split(opts, ","), "string") {
			prop = openapi3.NewStringSchema().NewRef()
		} else {
			prop = r.schema(f.Type)
		}
		s.WithPropertyRef(name, prop)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") && !slices.Contains(strings.Split(opts, ","), "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
}
