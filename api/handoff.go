package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tandem/activities/ai"
	"tandem/activities/store"
	"tandem/workflows"
)

// HandoffJSON is what an agent taking a case sees first: why it came to
// people, a summary, what the customer said first and last, what they want
// and how they feel (and whether that is getting worse), what was already
// answered, and the whole conversation.
type HandoffJSON struct {
	Case             CaseJSON         `json:"case"`
	Reason           string           `json:"reason,omitempty"`
	Summary          string           `json:"summary"`
	Intent           string           `json:"intent,omitempty"`   // the AI's reading of the latest message
	Language         string           `json:"language,omitempty"` // en, zh-Hans, zh-Hant
	Sentiment        []SentimentPoint `json:"sentiment"`          // one per message the AI read, oldest first
	SentimentTrend   string           `json:"sentiment_trend"`    // rising, falling, steady or unknown
	OpeningMessage   *MessageJSON     `json:"opening_message"`
	LatestMessage    *MessageJSON     `json:"latest_customer_message"`
	CustomerMessages int              `json:"customer_messages"`
	AlreadyAnswered  []MessageJSON    `json:"already_answered"` // replies by the AI or the system
	Transcript       []MessageJSON    `json:"transcript"`
	// Suggestion is agent assist: what the knowledge base would answer to
	// the latest customer message, for the agent to adapt; null when it has
	// nothing on it.
	Suggestion *SuggestionJSON `json:"suggested_reply"`
	// SuggestedRefund: the customer asked about something a refund settles;
	// the agent may request one (POST /v1/cases/{id}/refunds). The AI only
	// suggests: it never requests or executes a refund. Null otherwise.
	SuggestedRefund *RefundSuggestionJSON `json:"suggested_refund"`
}

// RefundSuggestionJSON is a refund the AI suggests the agent request.
type RefundSuggestionJSON struct {
	Kind       string `json:"kind"`
	ReasonCode string `json:"reason_code"`
	OrderRef   string `json:"order_ref,omitempty"` // the order number the customer gave, if any
	Why        string `json:"why"`
}

// refundIntents are the intents a refund may settle, with the reason code
// to request it under.
var refundIntents = map[string]string{"refund_policy": "customer_request", "damaged_item": "damaged", "cancel_order": "cancelled"}

// orderNumber finds an order number the customer wrote: "order 1001",
// "order #A-1001", "#1001", "订单号 1001", "訂單 1001".
var orderNumber = regexp.MustCompile(`(?i)(?:order\b(?:\s+(?:no\.?|number))?|订单号?|訂單號?|#)\s*[:：#]?\s*([A-Z0-9][A-Z0-9-]{2,30})`)

// suggestRefund suggests a refund when the latest refund intent the AI read
// is one a refund settles, with the order number the customer gave last.
func suggestRefund(intents []string, msgs []store.Message) *RefundSuggestionJSON {
	for i := len(intents) - 1; i >= 0; i-- {
		reason, ok := refundIntents[intents[i]]
		if !ok {
			continue
		}
		out := &RefundSuggestionJSON{Kind: "refund", ReasonCode: reason, Why: "the customer's messages read as " + intents[i]}
		for j := len(msgs) - 1; j >= 0 && out.OrderRef == ""; j-- {
			if msgs[j].AuthorKind != workflows.AuthorCustomer || msgs[j].Erased {
				continue
			}
			if m := orderNumber.FindStringSubmatch(msgs[j].Body); m != nil {
				out.OrderRef = m[1]
			}
		}
		return out
	}
	return nil
}

// SuggestionJSON is a suggested reply for the agent and the articles behind it.
type SuggestionJSON struct {
	Text       string           `json:"text"`
	ArticleID  string           `json:"article_id"`
	Intent     string           `json:"intent"`
	Confidence float64          `json:"confidence"`
	Language   string           `json:"language"`
	Others     []ai.Alternative `json:"other_articles"` // further articles the engine considered
}

// SentimentPoint is the AI's emotion reading of one customer message.
type SentimentPoint struct {
	MessageSeq int64     `json:"message_seq"`
	Negativity float64   `json:"negativity"`
	Distress   float64   `json:"distress"`
	Anger      float64   `json:"anger"`
	Anxiety    float64   `json:"anxiety"`
	Sadness    float64   `json:"sadness"`
	At         time.Time `json:"at"`
}

// maxTranscript bounds the handoff's transcript: the case's last messages
// (the whole conversation pages through GET /v1/cases/{id}).
const maxTranscript = 200

func (s *Server) handoff(c *gin.Context) error {
	ctx := c.Request.Context()
	row, err := s.loadCase(c)
	var msgs []store.Message
	var stats store.MessageStats
	if err == nil {
		msgs, err = s.store.LastMessages(ctx, row.TenantID, row.ID, maxTranscript)
	}
	if err == nil {
		stats, err = s.store.CaseMessageStats(ctx, row.TenantID, row.ID)
	}
	if err == nil && stats.OpeningSeq != 0 && (len(msgs) == 0 || msgs[0].Seq > stats.OpeningSeq) {
		var opening []store.Message
		if opening, err = s.store.MessagesBySeq(ctx, row.TenantID, row.ID, stats.OpeningSeq); err == nil && len(opening) == 1 {
			msgs = append(opening, msgs...) // the opening message always, then the latest
		}
	}
	var decisions []store.AuditEvent
	if err == nil {
		decisions, err = s.aiDecisions(c, row)
	}
	if err == nil {
		err = s.audit(c, auditEntry{Action: "case.handoff.read", ObjectType: "case", ObjectID: row.ID, CaseID: row.ID})
	}
	if err != nil {
		return err
	}
	out := HandoffJSON{Case: caseFromRow(row), Reason: deref(row.EscalationReason), Sentiment: []SentimentPoint{},
		AlreadyAnswered: []MessageJSON{}, Transcript: make([]MessageJSON, 0, len(msgs)), CustomerMessages: int(stats.Customer)}
	for _, m := range msgs {
		j := messageFromRow(m)
		out.Transcript = append(out.Transcript, j)
		switch m.AuthorKind {
		case workflows.AuthorCustomer:
			if out.OpeningMessage == nil {
				out.OpeningMessage = &j
			}
			out.LatestMessage = &j
		case workflows.AuthorAI, workflows.AuthorSystem:
			out.AlreadyAnswered = append(out.AlreadyAnswered, j)
		}
	}
	var intents []string
	for _, e := range decisions {
		var d map[string]string
		if json.Unmarshal([]byte(e.Details), &d) != nil || d["negativity"] == "" {
			continue
		}
		num := func(k string) float64 { f, _ := strconv.ParseFloat(d[k], 64); return f }
		seq, _ := strconv.ParseInt(d["customer_seq"], 10, 64)
		out.Sentiment = append(out.Sentiment, SentimentPoint{MessageSeq: seq, Negativity: num("negativity"), Distress: num("distress"),
			Anger: num("anger"), Anxiety: num("anxiety"), Sadness: num("sadness"), At: e.OccurredAt.UTC()})
		out.Language = d["language"]
		if d["intent"] != "" { // an out-of-scope reading keeps the intent last seen
			out.Intent = d["intent"]
		}
		if d["intent"] != "" && (len(intents) == 0 || intents[len(intents)-1] != d["intent"]) {
			intents = append(intents, d["intent"])
		}
	}
	distress := make([]float64, 0, len(out.Sentiment))
	for _, p := range out.Sentiment {
		distress = append(distress, p.Distress)
	}
	out.SentimentTrend = workflows.SentimentTrend(distress)
	out.Summary = summary(out, intents)
	out.SuggestedRefund = suggestRefund(intents, msgs)
	if out.LatestMessage != nil && !out.LatestMessage.Erased && s.ai != nil {
		res, err := s.ai.Respond(ctx, ai.Request{TenantID: row.TenantID, CaseID: row.ID, Message: out.LatestMessage.Body})
		switch {
		case err != nil: // the package is still worth having without a suggestion
			s.log.WarnContext(ctx, "agent assist: no suggestion", "case", row.ID, "err", err)
		case !res.OutOfScope:
			others := res.Alternatives
			if others == nil {
				others = []ai.Alternative{}
			}
			out.Suggestion = &SuggestionJSON{Text: res.Answer, ArticleID: res.ArticleID, Intent: res.Intent,
				Confidence: res.Confidence, Language: res.Language, Others: others}
		}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// aiDecisions reads the audit entries in which the AI read the case's
// messages, in order: its replies and its escalations carry the reading.
func (s *Server) aiDecisions(c *gin.Context, row store.Case) ([]store.AuditEvent, error) {
	return s.store.ListAudit(c.Request.Context(), row.TenantID, store.AuditFilter{CaseID: row.ID,
		Actions: []string{workflows.AuditCaseReply, workflows.AuditCaseEscalate}, Limit: 1000, Open: true})
}

// summary states in one paragraph what the handoff holds, from its facts.
func summary(h HandoffJSON, intents []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d customer message(s)", h.CustomerMessages)
	if h.Language != "" {
		fmt.Fprintf(&b, " in %s", h.Language)
	}
	if len(intents) > 0 {
		fmt.Fprintf(&b, " about %s", strings.Join(intents, ", then "))
	}
	ai := 0
	for _, m := range h.AlreadyAnswered {
		if m.AuthorKind == workflows.AuthorAI {
			ai++
		}
	}
	fmt.Fprintf(&b, "; the AI answered %d time(s)", ai)
	if h.Reason != "" {
		fmt.Fprintf(&b, "; handed to people for %s", strings.ReplaceAll(h.Reason, "_", " "))
	}
	if n := len(h.Sentiment); n > 0 {
		fmt.Fprintf(&b, "; latest distress %.2f, negativity %.2f (%s)", h.Sentiment[n-1].Distress, h.Sentiment[n-1].Negativity, h.SentimentTrend)
	}
	b.WriteString(".")
	return b.String()
}
