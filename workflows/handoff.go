package workflows

import (
	"strings"
	"unicode"
)

// Escalation reason codes, stored with the case and its audit entry.
const (
	ReasonCustomerRequest = "customer_requested_human"
	ReasonAgentEscalated  = "agent_escalated"
)

// DefaultQueue is where escalated cases wait until routing by skill and
// language picks a queue; SupervisorQueue is where agents escalate cases.
const (
	DefaultQueue    = "general"
	SupervisorQueue = "supervisors"
)

// HandoffNotice tells the customer a person is taking over.
const HandoffNotice = "We are passing your conversation to a person, who will reply here."

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
