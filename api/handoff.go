package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tandem/workflows"
)

// HandoffJSON is what an agent taking a case sees first: why it came to
// people, what the customer said first and last, what was already answered,
// and the whole conversation.
type HandoffJSON struct {
	Case             CaseJSON      `json:"case"`
	Reason           string        `json:"reason,omitempty"`
	OpeningMessage   *MessageJSON  `json:"opening_message"`
	LatestMessage    *MessageJSON  `json:"latest_customer_message"`
	CustomerMessages int           `json:"customer_messages"`
	AlreadyAnswered  []MessageJSON `json:"already_answered"` // replies by the AI or the system
	Transcript       []MessageJSON `json:"transcript"`
}

func (s *Server) handoff(c *gin.Context) {
	row, msgs, err := s.store.GetCase(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err == nil {
		err = s.inScope(c, row)
	}
	if err == nil {
		err = s.audit(c, "case.handoff.read", "case", row.ID, row.ID, "allow", "success", "", nil)
	}
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	out := HandoffJSON{Case: caseFromRow(row), AlreadyAnswered: []MessageJSON{}, Transcript: make([]MessageJSON, 0, len(msgs))}
	if row.EscalationReason != nil {
		out.Reason = *row.EscalationReason
	}
	for _, m := range msgs {
		j := messageFromRow(m)
		out.Transcript = append(out.Transcript, j)
		switch m.AuthorKind {
		case workflows.AuthorCustomer:
			out.CustomerMessages++
			if out.OpeningMessage == nil {
				out.OpeningMessage = &j
			}
			out.LatestMessage = &j
		case workflows.AuthorAI, workflows.AuthorSystem:
			out.AlreadyAnswered = append(out.AlreadyAnswered, j)
		}
	}
	c.JSON(http.StatusOK, out)
}
