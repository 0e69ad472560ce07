package api

import (
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// CaseJSON is a case as the API returns it.
type CaseJSON struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenant_id"`
	WorkflowID  string     `json:"workflow_id"`
	CustomerRef string     `json:"customer_ref"`
	Erased      bool       `json:"customer_erased,omitempty"` // personal data crypto-shredded
	Channel     string     `json:"channel"`
	Subject     string     `json:"subject"`
	Priority    string     `json:"priority"`
	Status      string     `json:"status"`
	Queue       string     `json:"queue,omitempty"`
	Assignee    string     `json:"assignee,omitempty"`
	Escalation  string     `json:"escalation_reason,omitempty"` // why people took the case
	OfferedTo   string     `json:"offered_to,omitempty"`        // the agent a queued case is offered to
	Policy      *PolicyRef `json:"policy,omitempty"`            // the service policy pinned at open
	SLADueAt    *time.Time `json:"sla_due_at,omitempty"`        // the earliest deadline of a running SLA clock
	SLABreached *time.Time `json:"sla_breached_at,omitempty"`   // the first breach of an SLA target
	OpenedAt    time.Time  `json:"opened_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ClosedAt    *time.Time `json:"closed_at"`
	// Tags and custom field values (canonical text: a number's decimal, a
	// date's YYYY-MM-DD, true or false): the staff's view only.
	Tags   []string          `json:"tags,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
	// MergedInto: the case this duplicate went into; MergedFrom: the
	// duplicates this case took in.
	MergedInto string   `json:"merged_into,omitempty"`
	MergedFrom []string `json:"merged_from,omitempty"`
}

// PolicyRef names the service policy a case pinned when it opened.
type PolicyRef struct {
	Profile string `json:"profile"`
	Version int64  `json:"version"`
}

// MessageJSON is a conversation turn as the API returns it.
type MessageJSON struct {
	Seq         int64  `json:"seq"`
	AuthorKind  string `json:"author_kind"`
	AuthorID    string `json:"author_id,omitempty"`
	Body        string `json:"body"`
	Erased      bool   `json:"erased,omitempty"` // the body was crypto-shredded
	Placeholder bool   `json:"placeholder"`
	ArticleID   string `json:"article_id,omitempty"` // the knowledge-base article of an AI answer
	// An AI answer's marks: the model, the article's version, and whether it
	// carries the disclosure that the customer talks to an AI system.
	Model          string `json:"model,omitempty"`
	ArticleVersion int    `json:"article_version,omitempty"`
	AIDisclosure   bool   `json:"ai_disclosure,omitempty"`
	// Internal marks a staff note, and Mentions the agents it names: the
	// staff's view only.
	Internal bool     `json:"internal,omitempty"`
	Mentions []string `json:"mentions,omitempty"`
	// Attachments are the files it carries (GET .../attachments/{id}).
	Attachments []AttachmentJSON `json:"attachments,omitempty"`
	At          time.Time        `json:"at"`
}

// CaseWithMessages is the body of GET /v1/cases/{id}.
type CaseWithMessages struct {
	Case      CaseJSON       `json:"case"`
	Messages  []MessageJSON  `json:"messages"`             // a page of the conversation, oldest first
	NextAfter int64          `json:"next_after,omitempty"` // ?after= of the next page; absent on the last
	Timeline  []TimelineStep `json:"timeline"`             // the case's transitions, oldest first
	Metrics   CaseMetrics    `json:"metrics"`
}

// TimelineStep is one transition of a case and who or what caused it.
type TimelineStep struct {
	At        time.Time         `json:"at"`
	Action    string            `json:"action"`
	ActorKind string            `json:"actor_kind"` // user, service, system, ai
	ActorID   string            `json:"actor_id"`
	Reason    string            `json:"reason,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// CaseMetrics are a case's own figures, in seconds from opening (null until
// they happen).
type CaseMetrics struct {
	FirstResponseAI    *float64 `json:"first_response_ai_seconds"`
	FirstResponseHuman *float64 `json:"first_response_human_seconds"`
	Resolution         *float64 `json:"resolution_seconds"`
}

// ExchangeJSON is the body of a case opening or a posted message: the case
// after the exchange, the customer's message and the reply to it (null once a
// person owns the case: they answer in their own time).
type ExchangeJSON struct {
	Case    CaseJSON     `json:"case"`
	Message MessageJSON  `json:"message"`
	Reply   *MessageJSON `json:"reply"`
}

// CaseList is the body of GET /v1/cases.
type CaseList struct {
	Cases      []CaseJSON `json:"cases"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func caseFromRow(r store.Case) CaseJSON {
	var policy *PolicyRef
	if r.PolicyProfile != nil && r.PolicyVersion != nil {
		policy = &PolicyRef{Profile: *r.PolicyProfile, Version: *r.PolicyVersion}
	}
	return CaseJSON{Policy: policy, Queue: deref(r.Queue), Assignee: deref(r.AssigneeID), Escalation: deref(r.EscalationReason), OfferedTo: deref(r.OfferedTo),
		ID: r.ID, TenantID: r.TenantID, WorkflowID: r.WorkflowID, CustomerRef: r.CustomerRef, Erased: r.CustomerErased,
		Channel: r.Channel, Subject: r.Subject, Priority: r.Priority, Status: r.Status,
		OpenedAt: r.OpenedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), ClosedAt: utcPtr(r.ClosedAt),
		SLADueAt: utcPtr(r.SLADueAt), SLABreached: utcPtr(r.SLABreachedAt), Tags: nilIfEmpty(r.Tags), Fields: nilIfNone(r.AllFields()),
		MergedInto: deref(r.MergedInto), MergedFrom: nilIfEmpty(r.MergedFrom),
	}
}

func nilIfNone(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nilIfEmpty(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

func caseFromState(st workflows.CaseState) CaseJSON {
	var policy *PolicyRef
	if st.Policy.Profile != "" {
		policy = &PolicyRef{Profile: st.Policy.Profile, Version: st.Policy.Version}
	}
	return CaseJSON{Policy: policy, Queue: st.Queue, Assignee: st.Assignee, Escalation: st.Escalation, OfferedTo: st.OfferedTo,
		ID: st.CaseID, TenantID: st.TenantID, WorkflowID: workflows.CaseWorkflowID(st.TenantID, st.CaseID),
		CustomerRef: st.CustomerRef, Channel: st.Channel, Subject: st.Subject, Priority: st.Priority,
		Status: st.Status, OpenedAt: pgTime(st.OpenedAt), UpdatedAt: pgTime(st.UpdatedAt), ClosedAt: utcPtr(st.ClosedAt),
		SLADueAt: utcPtr(st.SLA.Due), SLABreached: utcPtr(st.SLA.Breach), Tags: st.Tags, Fields: stateFields(st.Fields),
		MergedInto: st.MergedInto, MergedFrom: st.MergedFrom,
	}
}

func stateFields(fs []workflows.FieldValue) map[string]string {
	if len(fs) == 0 {
		return nil
	}
	out := make(map[string]string, len(fs))
	for _, f := range fs {
		out[f.Name] = f.Value
	}
	return out
}
