// Package ai is Tandem's AI layer: an Engine answers a customer's message and
// says how sure it is, what the customer wants, which language they write in
// and how they feel, so that the case workflow can decide whether the AI may
// answer or a person must. The local engine needs no network: it answers from
// the tenant's knowledge base in PostgreSQL.
package ai

import "context"

// Engine answers customer messages. Implementations are safe for concurrent use.
type Engine interface {
	Respond(ctx context.Context, req Request) (Response, error)
}

// Request is one customer message and what the engine needs of the case.
type Request struct {
	TenantID string
	CaseID   string
	Message  string
	// Previous holds the customer's earlier messages in the case, oldest
	// first (the workflow keeps the last few), to notice repetition.
	Previous []string
	// Notes are the staff's latest notes on the case, where the tenant
	// gives them to the AI: context for an answer, never to be quoted.
	Notes []string
}

// Response is the engine's reading of a message and its answer.
type Response struct {
	Engine         string        `json:"engine"`
	Model          string        `json:"model"` // engine version and knowledge-base version
	Answer         string        `json:"answer"`
	ArticleID      string        `json:"article_id,omitempty"`
	ArticleVersion int64         `json:"article_version,omitempty"`
	Intent         string        `json:"intent,omitempty"`
	Confidence     float64       `json:"confidence"`   // 0–1: how well the best article matches
	OutOfScope     bool          `json:"out_of_scope"` // nothing in the knowledge base is about this
	Language       string        `json:"language"`
	Emotion        Emotion       `json:"emotion"`
	SensitiveTopic string        `json:"sensitive_topic,omitempty"`
	Domain         string        `json:"domain,omitempty"`  // of the matched article
	Intents        []string      `json:"intents,omitempty"` // set when the message asks several things at once
	Repeated       bool          `json:"repeated"`          // the customer asks again what they already asked
	Alternatives   []Alternative `json:"alternatives,omitempty"`
	Citations      []string      `json:"citations,omitempty"` // articles an LLM answer cites
	Fallback       string        `json:"fallback,omitempty"`  // why the LLM engine answered with the local engine's answer
}

// Alternative is a further article the engine considered.
type Alternative struct {
	ArticleID  string  `json:"article_id"`
	Intent     string  `json:"intent"`
	Confidence float64 `json:"confidence"`
}
