package workflows

import (
	"hash/fnv"
	"slices"
	"strings"
	"unicode"

	"tandem/policies/service"
)

// Escalation reason codes, stored with the case and its audit entry.
const (
	ReasonCustomerRequest    = "customer_requested_human"
	ReasonAgentEscalated     = "agent_escalated"
	ReasonSensitiveTopic     = "sensitive_topic"     // fraud, account security, medical, legal, complaint, vulnerability
	ReasonNegativeSentiment  = "negative_sentiment"  // distress (anger, anxiety, sadness) over the policy's threshold
	ReasonSentimentWorsening = "sentiment_worsening" // distress rising over the customer's last messages
	ReasonCustomerRepeating  = "customer_repeating"  // asks again what the AI already answered
	ReasonOutOfScope         = "out_of_scope"        // the knowledge base has nothing on it
	ReasonSeveralIntents     = "multiple_intents"    // several questions at once
	ReasonLowConfidence      = "low_confidence"      // under the policy's minimum confidence
	ReasonAIRepeating        = "ai_repeating"        // the AI would give the same answer again
	ReasonAIUnhelpful        = "ai_unhelpful"        // the customer judged enough answers not helpful
	ReasonAIFailure          = "ai_failure"          // the AI layer failed or timed out
	ReasonHumanShare         = "human_share"         // sampled so that people see the policy's share of cases
	ReasonSLABreach          = "sla_breach"          // an SLA target passed while the AI had the case
	ReasonPeopleDomain       = "people_domain"       // a domain the tenant keeps for people (medical, legal, …)
	ReasonRefundNeedsPerson  = "refund_needs_person" // a refund the policy does not let through without a person
	ReasonRefundFailed       = "refund_failed"       // a refund's payment failed while the AI had the case
)

// aiEscalation decides whether the AI may answer a message or a person must
// take the case, by the case's pinned policy. The order is the order of
// precedence: a safety concern outranks a weak match.
func aiEscalation(pol service.Policy, r AITurnResult, mem AIMemory) string {
	p, domains := pol.Escalation, pol.AI
	strictMiss := slices.Contains(domains.StrictDomains, r.SensitiveTopic) && r.Domain != r.SensitiveTopic
	switch {
	case slices.Contains(domains.PeopleDomains, r.Domain) || slices.Contains(domains.PeopleDomains, r.SensitiveTopic):
		return ReasonPeopleDomain
	case r.SensitiveTopic != "" && p.SensitiveTopicsToHuman:
		return ReasonSensitiveTopic
	case p.NegativeSentiment > 0 && r.Distress >= p.NegativeSentiment:
		return ReasonNegativeSentiment
	case worsening(append(slices.Clone(mem.Distress), r.Distress), p.NegativeSentiment):
		return ReasonSentimentWorsening
	case r.Repeated:
		return ReasonCustomerRepeating
	case r.OutOfScope, strictMiss: // a strict domain's question answered from another domain is not answered
		return ReasonOutOfScope
	case len(r.Intents) > 1:
		return ReasonSeveralIntents
	case r.Confidence < p.MinConfidence:
		return ReasonLowConfidence
	case r.ArticleID != "" && r.ArticleID == mem.Article:
		return ReasonAIRepeating
	}
	return ""
}

// Sentiment trends of a conversation.
const (
	TrendRising  = "rising"
	TrendFalling = "falling"
	TrendSteady  = "steady"
	TrendUnknown = "unknown" // fewer than two readings
)

// SentimentTrend reads a customer's distress scores, oldest first: rising
// when each of the last three (or two) is higher than the one before, by a
// fifth of the scale in all; falling the other way; otherwise steady. The
// escalation trigger and the handoff package both read it.
func SentimentTrend(scores []float64) string {
	if len(scores) < 2 {
		return TrendUnknown
	}
	last := scores[max(0, len(scores)-3):]
	up, down := true, true
	for i := 1; i < len(last); i++ {
		up = up && last[i] > last[i-1]
		down = down && last[i] < last[i-1]
	}
	switch moved := last[len(last)-1] - last[0]; {
	case up && moved >= 0.2:
		return TrendRising
	case down && -moved >= 0.2:
		return TrendFalling
	}
	return TrendSteady
}

// worsening: over three scores at least, the trend is rising, to at least
// 60% of the threshold (a calm customer growing slightly less calm is no
// reason to escalate).
func worsening(scores []float64, threshold float64) bool {
	return len(scores) >= 3 && threshold > 0 && SentimentTrend(scores) == TrendRising && scores[len(scores)-1] >= 0.6*threshold
}

// sampledForPeople says whether a case is one of the share a person must
// see. It depends only on the case ID, so replay and retries agree.
func sampledForPeople(caseID string, share float64) bool {
	if share <= 0 {
		return false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(caseID))
	return float64(h.Sum32()%10000) < share*10000
}

// DefaultQueue is where escalated cases wait until routing by skill and
// language picks a queue; SupervisorQueue is where agents escalate cases.
const (
	DefaultQueue    = "general"
	SupervisorQueue = "supervisors"
)

// HandoffNotice tells the customer a person is taking over.
const HandoffNotice = "We are passing your conversation to a person, who will reply here."

// handoffNotices are HandoffNotice in the languages the AI detects.
var handoffNotices = map[string]string{
	"zh-Hans": "我们正在为您转接人工客服，工作人员会在这里回复您。",
	"zh-Hant": "我們正在為您轉接人工客服，工作人員會在這裡回覆您。",
}

// HandoffNoticeIn is the handoff notice in a language the AI detects
// (en, zh-Hans, zh-Hant); English for any other.
func HandoffNoticeIn(lang string) string {
	if n, ok := handoffNotices[lang]; ok {
		return n
	}
	return HandoffNotice
}

// Phrases by which customers ask for a person, in English and in Simplified
// and Traditional Chinese. Chinese is matched as a substring (it has no
// spaces); English by whole words, so "agenda" is not "agent".
var (
	personWordsEN = []string{"human", "agent", "representative", "operator"}
	personPhrases = []string{
		"real person", "live person", "talk to a person", "speak to a person", "talk to someone", "speak to someone",
		"转人工", "人工客服", "找客服", "真人", "人工服务", "转接人工",
		"轉人工", "人工服務", "轉接人工",
	}
)

// AsksForPerson reports whether a customer's message asks for a person.
func AsksForPerson(body string) bool {
	lower := strings.ToLower(body)
	for _, p := range personPhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	words := strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range words {
		for _, p := range personWordsEN {
			if w == p || w == p+"s" {
				return true
			}
		}
	}
	return false
}
