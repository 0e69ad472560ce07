package workflows

import (
	"slices"
	"strings"
	"time"

	"tandem/policies/service"
)

// Case statuses, as stored in the projection and returned by the API.
const (
	StatusAIHandling = "ai_handling"
	StatusQueued     = "queued"              // waiting for a person in Queue
	StatusAssigned   = "assigned"            // a person (Assignee) owns it; the AI is silent
	StatusInProgress = "in_progress"         // the person has answered
	StatusWaiting    = "waiting_on_customer" // the person asked the customer for information
	StatusResolved   = "resolved"            // reopens on a customer message within the reopen window
	StatusClosed     = "closed"
)

// Statuses lists every status a case can have, for validating filters.
var Statuses = []string{StatusAIHandling, StatusQueued, StatusAssigned, StatusInProgress, StatusWaiting, StatusResolved, StatusClosed}

// WithPerson are the statuses in which a person owns the case.
var WithPerson = []string{StatusAssigned, StatusInProgress, StatusWaiting}

// Done are the statuses of a case that people or the AI have finished with.
var Done = []string{StatusResolved, StatusClosed}

// ResolutionCodes are the ways a case can be resolved.
var ResolutionCodes = []string{"answered", "refunded", "replaced", "duplicate", "no_response", "other"}

// DefaultReopenWindow applies to cases whose pinned policy has none.
const DefaultReopenWindow = 7 * 24 * time.Hour

// Channels through which a case can be opened.
var Channels = []string{"web_chat", "app", "email", "ivr", "api"}

// Priorities of a case, lowest first.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Author kinds of a message.
const (
	AuthorCustomer = "customer"
	AuthorAI       = "ai"
	AuthorAgent    = "agent"
	AuthorSystem   = "system"
)

// Limits enforced by the workflow's update validators (the API checks them
// first, so clients get field-level errors).
const (
	MaxMessageRunes    = 8000
	MaxMessagesPerCase = 5000 // a conversation longer than this is another case
)

// CaseOpening is what a case is opened with and keeps: whose it is, through
// which channel, about what, how urgent. Embedded in CaseInput and CaseState,
// its fields encode at their top level, as they always have.
type CaseOpening struct {
	TenantID    string `json:"tenant_id"`
	CaseID      string `json:"case_id"`
	CustomerRef string `json:"customer_ref"`
	Channel     string `json:"channel"`
	Subject     string `json:"subject"`
	Priority    string `json:"priority"`
}

// CaseInput starts a case workflow. The caller has validated it. Policy is
// the tenant's service policy when the case opened, pinned for its life.
type CaseInput struct {
	CaseOpening
	Policy service.Policy `json:"policy"`
	// HistoryLimit is the history length at which the case continues as new
	// (0: DefaultHistoryLimit); Carried is the state a continued run starts from.
	HistoryLimit int        `json:"history_limit,omitempty"`
	Carried      *CaseState `json:"carried,omitempty"`
}

// DefaultHistoryLimit keeps histories well under Temporal's warning sizes.
const DefaultHistoryLimit = 10_000

// CaseResult is what a finished case workflow returns.
type CaseResult struct {
	State CaseState `json:"state"`
}

// CaseState is the workflow's view of a case, returned by QueryState and by updates.
type CaseState struct {
	CaseOpening
	Status     string     `json:"status"`
	Queue      string     `json:"queue,omitempty"`
	Assignee   string     `json:"assignee,omitempty"`
	Escalation string     `json:"escalation_reason,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Policy     PolicyRef  `json:"policy"`
	Seq        int64      `json:"seq"`
	Messages   int        `json:"messages"`
	Notes      int        `json:"notes,omitempty"` // staff notes, numbered with the messages but not counted among them
	// Tags (sorted) and custom field values (sorted by name) the staff or
	// rules gave the case, under the tenant's schema.
	Tags   []string     `json:"tags,omitempty"`
	Fields []FieldValue `json:"fields,omitempty"`
	// MergedInto is the case this one was merged into; MergedFrom, the
	// cases merged into this one.
	MergedInto  string     `json:"merged_into,omitempty"`
	MergedFrom  []string   `json:"merged_from,omitempty"`
	OpenedAt    time.Time  `json:"opened_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	CloseReason string     `json:"close_reason,omitempty"`
	// AI is what the case remembers of the AI's turns, for its triggers.
	AI AIMemory `json:"ai"`
	// SLA holds the case's clocks against its pinned policy's targets.
	SLA SLAState `json:"sla"`
	// Language is the customer's, as the AI last read it; routing matches it.
	Language string `json:"language,omitempty"`
	// OfferedTo is the agent a queued case is offered to until OfferUntil.
	OfferedTo  string     `json:"offered_to,omitempty"`
	OfferUntil *time.Time `json:"offer_until,omitempty"`
	// Passed lists agents who let an offer lapse or released the case; they
	// are not offered it again until someone takes it.
	Passed []string `json:"passed,omitempty"`
	// RoutePending: the case waits in a queue and routing has not looked
	// for an agent since it got there.
	RoutePending bool `json:"route_pending,omitempty"`
	// Refunds are the IDs of the refund sagas the case started, oldest first.
	Refunds []string `json:"refunds,omitempty"`
	// Gen counts the runs before this one; with the history length it
	// orders the projection's writes (ProjectionPos).
	Gen int64 `json:"gen,omitempty"`
	// Applied remembers the keyed updates the case took (messages sent with
	// an idempotency key, the opening, and, in runs started under case-v2
	// version 3, every staff action), so a retry that reaches a later run,
	// where Temporal no longer knows its update ID, is answered and not
	// applied again. Version 3 keeps each for KeyRetention; earlier runs
	// keep the last 100 messages.
	Applied []AppliedMessage `json:"applied,omitempty"`
	// ReadAt is where in the history the Query (QueryState) read the state:
	// every projection write of a task the state includes was made at or
	// before it, and any later one after it. A repair from this state writes
	// at ReadAt, so it never overwrites or deletes what a later update
	// committed. Only the Query's answer sets it.
	ReadAt *ProjectionPos `json:"read_at,omitempty"`
}

// Reported is the case as an update's result tells its caller: what a
// person or client is shown, without the workflow's own memory (the AI's
// recent messages and scores, the SLA clocks, applied update IDs, passed
// agents, refunds), which would otherwise be written again into the
// history with every update's result. The Query (QueryState) answers the
// whole state.
func (s CaseState) Reported() CaseState {
	s.AI, s.Applied, s.Passed, s.Refunds = AIMemory{}, nil, nil, nil
	s.SLA = SLAState{Due: s.SLA.Due, Breach: s.SLA.Breach}
	return s
}

// AppliedMessage is an update the case took under an update ID the client
// chose: the sequence it made (a message's; a staff action's step), that of
// the reply to a customer's message (0: none), and when it was taken.
type AppliedMessage struct {
	UpdateID string    `json:"update_id"`
	Seq      int64     `json:"seq"`
	Reply    int64     `json:"reply,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// maxApplied bounds CaseState.Applied in runs before case-v2 version 3.
const maxApplied = 100

// KeyRetention is how long a keyed update is remembered: a retry within it
// is answered with what the first request did; the API refuses one past it
// (409 idempotency_key_expired) before the workflow sees it, as payment
// APIs expire their keys after a day.
const KeyRetention = 24 * time.Hour

// keyMargin keeps an update a little longer than KeyRetention: the API
// measures a key's age on its own clock from its first use, before the
// workflow took it.
const keyMargin = time.Hour

// maxAppliedByTime bounds the memory of a case under KeyRetention: no case
// takes more keyed updates in a day than it may hold messages.
const maxAppliedByTime = MaxMessagesPerCase

// RefundFailedSignal is the argument of SignalRefundFailed.
type RefundFailedSignal struct {
	RefundID string `json:"refund_id"`
	Rule     string `json:"rule"`
}

// MaxRefundsPerCase bounds the refunds and compensations one case may ask for.
const MaxRefundsPerCase = 50

// RequestRefundInput is the argument of UpdateRequestRefund. RefundID is
// chosen by the caller, so a retry names the same saga.
type RequestRefundInput struct {
	Actor      Actor        `json:"actor"`
	Via        string       `json:"via,omitempty"` // the person who made the API key the request came with
	RefundID   string       `json:"refund_id"`
	OrderRef   string       `json:"order_ref"`
	Kind       string       `json:"kind"`
	Amount     string       `json:"amount"`
	Currency   string       `json:"currency"`
	ReasonCode string       `json:"reason_code"`
	Items      []RefundItem `json:"items,omitempty"`
	Evidence   []string     `json:"evidence,omitempty"`
}

// RequestRefundResult names the saga UpdateRequestRefund started (or had started).
type RequestRefundResult struct {
	RefundID   string `json:"refund_id"`
	WorkflowID string `json:"workflow_id"`
}

// AIMemory is what the escalation triggers need of earlier AI turns. It is
// bounded, so a long case does not grow its state.
type AIMemory struct {
	Recent    []string  `json:"recent,omitempty"`    // the customer's last messages to the AI, oldest first
	Distress  []float64 `json:"distress,omitempty"`  // their distress scores, oldest first
	Answers   []int64   `json:"answers,omitempty"`   // sequences of the AI's recent answers
	Rated     []int64   `json:"rated,omitempty"`     // answers the customer has judged
	Unhelpful int       `json:"unhelpful"`           // answers judged not helpful since the AI took the case
	Article   string    `json:"article,omitempty"`   // the article of the AI's last answer
	Topic     string    `json:"topic,omitempty"`     // the last sensitive topic seen
	Domain    string    `json:"domain,omitempty"`    // the domain of the last matched article
	Intent    string    `json:"intent,omitempty"`    // the customer's last detected intent
	Language  string    `json:"language,omitempty"`  // the customer's last detected language
	Disclosed bool      `json:"disclosed,omitempty"` // the AI said it is an AI (its first answer)
	Notes     []string  `json:"notes,omitempty"`     // the staff's last notes, where the policy gives them to the AI
}

// Bounds of AIMemory.
const (
	aiRecentMessages = 3
	aiRecentScores   = 5
	aiRecentAnswers  = 20
	aiRecentNotes    = 3
)

// PinnedPolicy is the service policy a case pinned when it opened.
type PinnedPolicy = service.Policy

// PolicyRef names the service policy a case pinned.
type PolicyRef struct {
	Profile string `json:"profile"`
	Version int64  `json:"version"`
}

// Message is one turn of the conversation.
type Message struct {
	Seq         int64  `json:"seq"`
	AuthorKind  string `json:"author_kind"`
	AuthorID    string `json:"author_id,omitempty"`
	Body        string `json:"body"`
	Placeholder bool   `json:"placeholder,omitempty"`
	ClientKey   string `json:"client_key,omitempty"`
	ArticleID   string `json:"article_id,omitempty"` // the knowledge-base article an AI answer came from
	// An AI answer's marks: the model, the article's version, and whether it
	// opened with the disclosure that the customer talks to an AI system.
	Model          string `json:"model,omitempty"`
	ArticleVersion int    `json:"article_version,omitempty"`
	AIDisclosure   bool   `json:"ai_disclosure,omitempty"`
	// Internal marks a staff note: part of the case and its trail, never
	// the customer's view, a front end's event or the AI's context.
	// Mentions are the agents it calls on, who are notified.
	Internal bool     `json:"internal,omitempty"`
	Mentions []string `json:"mentions,omitempty"`
	// Attachments are the files it carries, by reference: their bytes are
	// stored sealed outside the workflow, never in its history.
	Attachments []Attachment `json:"attachments,omitempty"`
	At          time.Time    `json:"at"`
}

// Attachment is a file a message carries: what the API checked of the
// upload (its name, type, size and the SHA-256 of its bytes).
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// MaxAttachments bounds the files one message carries, whatever the API
// is configured to accept.
const MaxAttachments = 20

// Actor is who caused a change, as recorded in the audit trail.
type Actor struct {
	Kind string `json:"kind"` // user, service, system, ai
	ID   string `json:"id"`
}

// SystemActor is Tandem itself, for replies and automatic transitions.
var SystemActor = Actor{Kind: "system", ID: "tandem"}

// PostMessageInput is the argument of UpdatePostMessage. ClientKey is the
// caller's Idempotency-Key, stored with the message.
type PostMessageInput struct {
	Body      string `json:"body"`
	Actor     Actor  `json:"actor"`
	ClientKey string `json:"client_key,omitempty"`
	// Attachments are uploads of the case's front end the API has checked.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Scope, when set, is what the caller may write to: the update is
	// refused (ErrTypeNotInScope) for a case outside it, so the API need not
	// read the case before sending.
	Scope *CallerScope `json:"scope,omitempty"`
}

// CallerScope is the cases a credential is bound to: its channels (none:
// every channel) and the one customer a request speaks for ("": any).
type CallerScope struct {
	Channels []string `json:"channels,omitempty"`
	Customer string   `json:"customer,omitempty"`
}

// Sees says a case of this channel and customer is in the scope.
func (s CallerScope) Sees(channel, customer string) bool {
	return (s.Channels == nil || slices.Contains(s.Channels, channel)) && (s.Customer == "" || s.Customer == customer)
}

// PostMessageResult is what UpdatePostMessage returns: the stored customer
// message, the reply to it (none, Seq 0, once a person owns the case), and
// the case after both.
type PostMessageResult struct {
	Case    CaseState `json:"case"`
	Message Message   `json:"message"`
	Reply   Message   `json:"reply"`
	// Duplicate: the message was taken before, in this run or an earlier
	// one; Message and Reply carry only their sequences, whose committed
	// text the projection holds.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ClaimInput is the argument of UpdateClaim: the agent claiming.
type ClaimInput struct {
	Actor Actor `json:"actor"`
}

// AgentMessageInput is the argument of UpdateReply and UpdateRequestInfo.
type AgentMessageInput struct {
	Actor       Actor        `json:"actor"`
	Body        string       `json:"body"`
	ClientKey   string       `json:"client_key,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"` // the staff's uploads the API has checked
}

// NoteInput is the argument of UpdateAddNote: a person's note and the
// agents of the tenant it mentions (the API has checked that they are).
type NoteInput struct {
	Actor       Actor        `json:"actor"`
	Body        string       `json:"body"`
	Mentions    []string     `json:"mentions,omitempty"`
	ClientKey   string       `json:"client_key,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"` // the staff's uploads the API has checked
}

// Limits of notes: a case's, and the agents one note may mention.
const (
	MaxNotesPerCase = 1000
	MaxMentions     = 20
)

// ActorInput is the argument of UpdateRelease.
type ActorInput struct {
	Actor Actor `json:"actor"`
}

// CloseInput is the argument of UpdateClose.
type CloseInput struct {
	Reason string `json:"reason"`
	Actor  Actor  `json:"actor"`
}

// ReassignInput is the argument of UpdateReassign.
type ReassignInput struct {
	Actor Actor  `json:"actor"`
	To    string `json:"to"` // the agent who gets the case
}

// EscalateInput is the argument of UpdateEscalate.
type EscalateInput struct {
	Actor Actor `json:"actor"`
}

// ResolveInput is the argument of UpdateResolve.
type ResolveInput struct {
	Actor Actor  `json:"actor"`
	Code  string `json:"code"` // one of ResolutionCodes
	// Required are the custom fields the tenant's schema requires before a
	// case is resolved (the API reads them); unset ones refuse it.
	Required []string `json:"required,omitempty"`
}

// FieldValue is a custom field's value, as the schema's type makes it
// canonical (a number's decimal, a date's YYYY-MM-DD, true or false).
// Sealed values (text fields, which may say something about a person)
// are kept under the customer's data key and cannot be filtered on.
type FieldValue struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Sealed bool   `json:"sealed,omitempty"`
}

// SetFieldsInput is the argument of UpdateSetFields: tags to add and to
// remove, field values to set and fields to clear.
type SetFieldsInput struct {
	Actor      Actor        `json:"actor"`
	AddTags    []string     `json:"add_tags,omitempty"`
	RemoveTags []string     `json:"remove_tags,omitempty"`
	Set        []FieldValue `json:"set,omitempty"`
	Clear      []string     `json:"clear,omitempty"`
}

// ApplyMacroInput is the argument of UpdateApplyMacro: the macro's reply as
// rendered for the case (none: no message), its tags and fields, and what
// it does then: MacroReply (in progress), MacroRequestInfo (waiting on the
// customer) or MacroResolve with Code (Required as for ResolveInput).
type ApplyMacroInput struct {
	Actor     Actor          `json:"actor"`
	MacroID   string         `json:"macro_id"`
	Body      string         `json:"body,omitempty"`
	Fields    SetFieldsInput `json:"fields"`
	Then      string         `json:"then"`
	Code      string         `json:"code,omitempty"`
	Required  []string       `json:"required,omitempty"`
	ClientKey string         `json:"client_key,omitempty"`
}

// What a macro does after its reply and fields.
const (
	MacroReply       = "reply"
	MacroRequestInfo = "request_info"
	MacroResolve     = "resolve"
)

// MacroThens lists them.
var MacroThens = []string{MacroReply, MacroRequestInfo, MacroResolve}

// Limits of a case's tags and fields.
const (
	MaxTagsPerCase   = 20
	MaxFieldsPerCase = 50
)

// FeedbackInput is the argument of UpdateFeedback: the customer's verdict on
// the AI answer with sequence Seq.
type FeedbackInput struct {
	Actor   Actor `json:"actor"`
	Seq     int64 `json:"seq"`
	Helpful bool  `json:"helpful"`
}

// AITurnInput is the argument of ActivityAITurn.
type AITurnInput struct {
	Engine   string   `json:"engine,omitempty"` // the pinned policy's choice; "": local
	TenantID string   `json:"tenant_id"`
	CaseID   string   `json:"case_id"`
	Message  string   `json:"message"`
	Previous []string `json:"previous,omitempty"`
	Notes    []string `json:"notes,omitempty"` // staff notes, where the pinned policy gives them to the AI
}

// AITurnResult is the AI layer's reading of a message and its answer.
type AITurnResult struct {
	Engine         string   `json:"engine"`
	Model          string   `json:"model"`
	Answer         string   `json:"answer"`
	ArticleID      string   `json:"article_id,omitempty"`
	ArticleVersion int64    `json:"article_version,omitempty"`
	Intent         string   `json:"intent,omitempty"`
	Confidence     float64  `json:"confidence"`
	OutOfScope     bool     `json:"out_of_scope"`
	Language       string   `json:"language"`
	Anger          float64  `json:"anger"`
	Anxiety        float64  `json:"anxiety"`
	Sadness        float64  `json:"sadness"`
	Negativity     float64  `json:"negativity"` // dissatisfaction, a plain complaint included
	Distress       float64  `json:"distress"`   // the strongest of anger, anxiety and sadness
	SensitiveTopic string   `json:"sensitive_topic,omitempty"`
	Intents        []string `json:"intents,omitempty"`
	Repeated       bool     `json:"repeated"`
	Domain         string   `json:"domain,omitempty"`    // of the matched article: general, finance, medical, legal, …
	Citations      []string `json:"citations,omitempty"` // articles an LLM answer cites
	Fallback       string   `json:"fallback,omitempty"`  // why the LLM engine's answer is the local one
}

// PickAgentInput is the argument of ActivityPickAgent.
type PickAgentInput struct {
	TenantID string   `json:"tenant_id"`
	CaseID   string   `json:"case_id"`
	Queue    string   `json:"queue"`
	Language string   `json:"language,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
}

// PickAgentResult names the agent to offer the case to ("" for nobody).
type PickAgentResult struct {
	AgentID string `json:"agent_id"`
}

// AuditRecord is an audit entry the workflow asks the projection write to
// append in the same transaction. Seq is the workflow sequence it belongs to,
// which with the action makes the entry's idempotency key.
type AuditRecord struct {
	Seq     int64             `json:"seq"`
	Action  string            `json:"action"`
	Actor   Actor             `json:"actor"`
	Reason  string            `json:"reason,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	At      time.Time         `json:"at"`
}

// RecordCaseInput is the argument of ActivityRecordCase: a snapshot of the
// case, the messages added since the previous record, and their audit entries.
type RecordCaseInput struct {
	Case     CaseState     `json:"case"`
	Messages []Message     `json:"messages,omitempty"`
	Audit    []AuditRecord `json:"audit,omitempty"`
	Pos      ProjectionPos `json:"pos"`
}

// ProjectionPos is where in the case's history a projection write was made:
// the run (CaseState.Gen) and the history length of the workflow task that
// made it. A workflow task lost in a crash is done again later in the
// history, so of two writes of the same row the one with the later position
// is the one Temporal committed; the projection keeps it.
type ProjectionPos struct {
	Gen   int64 `json:"gen"`
	Event int64 `json:"event"`
}

// ValidateMessageBody returns a reason the body is unacceptable, or "".
func ValidateMessageBody(body string) string {
	if strings.TrimSpace(body) == "" {
		return "message body must not be empty"
	}
	if n := len([]rune(body)); n > MaxMessageRunes {
		return "message body is longer than 8000 characters"
	}
	return ""
}

// SLAState holds a case's clocks. Times are absolute, so a continued run or a
// restarted worker re-arms its timers from them.
type SLAState struct {
	Clocks []SLAClock `json:"clocks,omitempty"`
	Pauses []SLAPause `json:"pauses,omitempty"` // while waiting on the customer, newest last
	Due    *time.Time `json:"due,omitempty"`    // the earliest deadline of a running clock
	Breach *time.Time `json:"breach,omitempty"` // the first breach
}

// SLAClock measures business time against one target.
type SLAClock struct {
	Name         string        `json:"name"`
	Target       time.Duration `json:"target"`  // business time
	Elapsed      time.Duration `json:"elapsed"` // business time used before RunningSince
	RunningSince *time.Time    `json:"running_since,omitempty"`
	Paused       bool          `json:"paused,omitempty"` // stopped by waiting on the customer; resumes on their answer
	Deadline     *time.Time    `json:"deadline,omitempty"`
	Warned       int           `json:"warned"` // how many of the policy's warning fractions have passed
	BreachedAt   *time.Time    `json:"breached_at,omitempty"`
	MetAt        *time.Time    `json:"met_at,omitempty"`
}

// SLAPause is one wait on the customer.
type SLAPause struct {
	From time.Time  `json:"from"`
	To   *time.Time `json:"to,omitempty"`
}

// maxSLAPauses bounds the pause history a case carries.
const maxSLAPauses = 50
