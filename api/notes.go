package api

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/workflows"
)

// NoteJSON is the body of POST /v1/cases/{id}/notes: the case and the note.
type NoteJSON struct {
	Case CaseJSON    `json:"case"`
	Note MessageJSON `json:"note"`
}

// mentionPattern finds @agent-id at the start of a word (an e-mail address
// mentions no one); trailing punctuation ends the ID.
var mentionPattern = regexp.MustCompile(`(?:^|[\s(\[{,;:])@([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9])`)

// mentionedIDs lists the agent IDs a note's text names, once each, in order.
func mentionedIDs(body string) []string {
	var out []string
	for _, m := range mentionPattern.FindAllStringSubmatch(body, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// addNote records a staff note on a case the caller may see: never shown
// to the customer, sent to a front end or read by the AI. Each @agent-id
// in it must name an agent of the tenant, who is notified.
func (s *Server) addNote(c *gin.Context) error {
	row, body, files, err := s.loadCaseAndBody(c)
	if err != nil {
		return err
	}
	mentions := mentionedIDs(body)
	if len(mentions) > workflows.MaxMentions {
		return validationError([]FieldError{{"body", "a note mentions at most 20 agents"}})
	}
	for _, id := range mentions {
		if _, err := s.store.GetAgent(c.Request.Context(), row.TenantID, id); errors.Is(err, store.ErrNotFound) {
			return validationError([]FieldError{{"body", "@" + id + " is not an agent of this tenant"}})
		} else if err != nil {
			return err
		}
	}
	id, err := s.updateID(c, row, workflows.UpdateAddNote)
	if err != nil {
		return err
	}
	key, _ := idempotencyKey(c) // checked by updateID
	var res workflows.PostMessageResult
	in := workflows.NoteInput{Actor: actorOf(c), Body: body, Mentions: mentions, ClientKey: key, Attachments: files}
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, workflows.UpdateAddNote, id, in), &res); err != nil {
		return err
	}
	out, err := s.exchange(c.Request.Context(), row.TenantID, row.ID, res, body)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, NoteJSON{Case: out.Case, Note: out.Message})
	return nil
}

// noteMarks are a note's marks in a message's JSON.
func noteMarks(out *MessageJSON, internal bool, mentions string) {
	out.Internal = internal
	if mentions != "" {
		out.Mentions = strings.Split(mentions, ",")
	}
}
