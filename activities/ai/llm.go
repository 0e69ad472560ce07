package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// LLMEngineName identifies the LLM engine in recorded decisions.
const LLMEngineName = "llm"

// LLMConfig points the LLM engine at an OpenAI-compatible chat-completions
// endpoint.
type LLMConfig struct {
	BaseURL string        // e.g. https://llm.example/v1; /chat/completions is appended
	Model   string        // the model name the endpoint expects
	APIKey  string        // sent as a bearer token; may be empty for a local server
	Timeout time.Duration // per answer; default 2 s (the AI turn has 3 s in all)
}

// LLM answers from the articles the local engine retrieves, in the
// customer's language, citing them. It never answers where the local engine
// finds the question out of scope, never lets a promise of money or of a
// future action through, redacts personal data before any text leaves, and
// falls back to the local engine's answer on a timeout, a refusal or a
// malformed reply.
type LLM struct {
	cfg    LLMConfig
	local  *Local
	client *http.Client
}

// NewLLM returns the LLM engine over the local one.
func NewLLM(cfg LLMConfig, local *Local) (*LLM, error) {
	if cfg.BaseURL == "" || cfg.Model == "" {
		return nil, errors.New("llm engine: base URL and model are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	return &LLM{cfg: cfg, local: local, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Fallback reasons, recorded in Response.Fallback.
const (
	FallbackTimeout   = "timeout"
	FallbackRefused   = "refused"   // the endpoint answered with an error status (429, 5xx, …)
	FallbackMalformed = "malformed" // the reply was not a chat completion
	FallbackGuardrail = "guardrail" // the reply promised what only people may promise
)

// Respond reads the message with the local engine, then asks the LLM to
// answer it from the articles found.
func (e *LLM) Respond(ctx context.Context, req Request) (Response, error) {
	base, err := e.local.Respond(ctx, req)
	if err != nil || base.OutOfScope {
		return base, err // nothing in the knowledge base: no model may make something up
	}
	ids := []string{base.ArticleID}
	for _, a := range base.Alternatives {
		ids = append(ids, a.ArticleID)
	}
	arts, err := e.local.articles(ctx, req.TenantID, ids)
	if err != nil {
		return base, err
	}
	answer, fallback := e.ask(ctx, req.Message, base.Language, arts, req.Notes)
	if fallback != "" {
		base.Fallback = fallback
		return base, nil // the local engine's own answer
	}
	if strings.TrimSpace(answer) == noAnswer {
		base.OutOfScope, base.Answer, base.ArticleID, base.ArticleVersion = true, "", "", 0
		return base, nil
	}
	out := base
	out.Engine, out.Model, out.Answer = LLMEngineName, e.cfg.Model, stripCitations(answer)
	out.Citations = citations(answer, arts)
	if len(out.Citations) == 0 {
		out.Citations = []string{base.ArticleID}
	}
	return out, nil
}

const noAnswer = "NO_ANSWER"

func (e *LLM) ask(ctx context.Context, message, lang string, arts []Article, notes []string) (string, string) {
	var sb strings.Builder
	for _, a := range arts {
		fmt.Fprintf(&sb, "[%s] %s\n%s\n\n", a.ID, a.Title, a.Answer)
	}
	system := "You answer a customer of this business only from the articles below, in the language " + lang +
		". Cite each article you use as [article id]. Never promise a refund, compensation or any future action; " +
		"never answer what the articles do not cover. If they do not answer the question, reply exactly " + noAnswer +
		".\n\nArticles:\n" + sb.String()
	if len(notes) > 0 {
		system += "Staff notes on this case, for you only: let them guide which article applies; never quote them or say they exist.\n"
		for _, n := range notes {
			system += "- " + Redact(strings.ReplaceAll(n, "\n", " ")) + "\n"
		}
	}
	body, _ := json.Marshal(map[string]any{ // a map of strings and slices always marshals
		"model":       e.cfg.Model,
		"temperature": 0,
		"messages": []map[string]string{
			{"role": "system", "content": system},
			{"role": "user", "content": Redact(message)},
		},
	})
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.cfg.BaseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", FallbackMalformed
	}
	req.Header.Set("Content-Type", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return "", FallbackTimeout // unreachable or too slow: the customer must not wait
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", FallbackRefused
	}
	var reply struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply); err != nil || len(reply.Choices) == 0 ||
		strings.TrimSpace(reply.Choices[0].Message.Content) == "" {
		return "", FallbackMalformed
	}
	answer := reply.Choices[0].Message.Content
	if promises(answer) {
		return "", FallbackGuardrail
	}
	return answer, ""
}

// promisePatterns catch an answer that commits the business to money or to
// a future action: only people decide those.
var promisePatterns = regexp.MustCompile(`(?i)\b(we|i)('ll| will| shall| are going to)\s+(refund|reimburse|compensate|credit|send|ship|replace|waive|fix|call)|` +
	`\byou('ll| will)\s+(get|receive|be (refunded|compensated|credited))|\bguarantee|\bpromise|` +
	`我们(会|将|一定|保证)|保证|承诺|一定会|肯定会|會退款|我們(會|將)`)

func promises(answer string) bool { return promisePatterns.MatchString(answer) }

var citationRe = regexp.MustCompile(`\[([^\[\]\s]{1,64})\]`)

// citations returns the provided articles the answer cites, in order.
func citations(answer string, arts []Article) []string {
	var out []string
	for _, m := range citationRe.FindAllStringSubmatch(answer, -1) {
		for _, a := range arts {
			if a.ID == m[1] && !slices.Contains(out, a.ID) {
				out = append(out, a.ID)
			}
		}
	}
	return out
}

var closeUp = strings.NewReplacer(" .", ".", " ,", ",", " !", "!", " ?", "?", " 。", "。", " ，", "，")

func stripCitations(answer string) string {
	return closeUp.Replace(strings.TrimSpace(strings.Join(strings.Fields(citationRe.ReplaceAllString(answer, "")), " ")))
}

// Personal data that must not leave for an external model.
var redactions = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`), "[EMAIL]"},
	{regexp.MustCompile(`\b\d{17}[\dXx]\b`), "[ID]"},           // mainland resident ID
	{regexp.MustCompile(`\b[A-Z]\d{9}\b`), "[ID]"},             // Taiwan ID
	{regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`), "[CARD]"}, // card and account numbers
	{regexp.MustCompile(`\+?\d[\d ()-]{7,}\d`), "[PHONE]"},     // phone numbers, with country codes
}

// Redact replaces e-mail addresses, ID, card and phone numbers in text.
func Redact(text string) string {
	for _, r := range redactions {
		text = r.re.ReplaceAllString(text, r.with)
	}
	return text
}

// articles returns the tenant's published articles with the given IDs.
func (l *Local) articles(ctx context.Context, tenantID string, ids []string) ([]Article, error) {
	ix, _, err := l.indexFor(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []Article
	for _, id := range ids {
		for _, a := range ix.articles {
			if a.ID == id {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}
