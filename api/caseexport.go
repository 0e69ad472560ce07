package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/workflows"
)

// ExportedCase is one line of GET /v1/cases/export: a case as a report
// wants it. Times are seconds from opening; reason codes as the trail keeps
// them. Customer and Subject, the text fields and the Messages are there
// only when the caller may read conversations and asks for them.
type ExportedCase struct {
	ID                 string            `json:"id"`
	Status             string            `json:"status"`
	Channel            string            `json:"channel"`
	Priority           string            `json:"priority"`
	Queue              string            `json:"queue,omitempty"`
	Assignee           string            `json:"assignee,omitempty"`
	OpenedAt           time.Time         `json:"opened_at"`
	ClosedAt           *time.Time        `json:"closed_at,omitempty"`
	FirstResponseAI    *float64          `json:"first_response_ai_seconds,omitempty"`
	FirstResponseHuman *float64          `json:"first_response_human_seconds,omitempty"`
	Resolution         *float64          `json:"resolution_seconds,omitempty"`
	ResolutionCode     string            `json:"resolution_code,omitempty"`
	EscalationReason   string            `json:"escalation_reason,omitempty"`
	CloseReason        string            `json:"close_reason,omitempty"`
	SLADueAt           *time.Time        `json:"sla_due_at,omitempty"`
	SLABreached        bool              `json:"sla_breached"`
	Tags               []string          `json:"tags"`
	Fields             map[string]string `json:"fields"`
	CSAT               *int              `json:"csat,omitempty"`
	RefundsPaid        string            `json:"refunds_paid,omitempty"`
	Customer           string            `json:"customer_ref,omitempty"`
	Subject            string            `json:"subject,omitempty"`
	Messages           []MessageJSON     `json:"messages,omitempty"`
}

var exportColumns = []string{"id", "status", "channel", "priority", "queue", "assignee", "opened_at", "closed_at",
	"first_response_ai_seconds", "first_response_human_seconds", "resolution_seconds", "resolution_code", "escalation_reason",
	"close_reason", "sla_due_at", "sla_breached", "tags", "fields", "csat", "refunds_paid", "customer_ref", "subject", "transcript"}

// openedBounds reads ?from= and ?to= (RFC 3339) into the filter's bounds on
// when a case was opened.
func openedBounds(c *gin.Context, f *store.ListFilter) []FieldError {
	var errs []FieldError
	for _, b := range []struct {
		name string
		to   **time.Time
	}{{"from", &f.OpenedFrom}, {"to", &f.OpenedTo}} {
		if v := c.Query(b.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs = append(errs, FieldError{b.name, "a time in RFC 3339, e.g. 2026-12-01T00:00:00Z"})
				continue
			}
			*b.to = &t
		}
	}
	return errs
}

// exportCases streams one row per case of the tenant, oldest first, as
// NDJSON (the default) or CSV (?format=csv), filtered as a listing is
// (status, queue, tag, field.<name>) and by opening time (from, to:
// RFC 3339). ?include=conversation adds the customer, the subject, the
// text fields and every message, for a caller whose role may read
// conversations. The export is audited before its first row; its memory
// does not grow with the number of cases.
func (s *Server) exportCases(c *gin.Context) error {
	f := store.ListFilter{Status: c.Query("status"), Queue: c.Query("queue")}
	errs, err := s.fieldFilters(c, &f)
	if err != nil {
		return err
	}
	if f.Status != "" && !slices.Contains(workflows.Statuses, f.Status) {
		errs = append(errs, FieldError{"status", "must be one of " + strings.Join(workflows.Statuses, ", ")})
	}
	format := c.DefaultQuery("format", "ndjson")
	if format != "ndjson" && format != "csv" {
		errs = append(errs, FieldError{"format", "ndjson or csv"})
	}
	errs = append(errs, openedBounds(c, &f)...)
	include := c.Query("include")
	if include != "" && include != "conversation" {
		errs = append(errs, FieldError{"include", "conversation, or nothing"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	p := principalOf(c)
	conversation := include == "conversation"
	if conversation {
		if ok, err := s.authz.Allowed(p.Roles, p.Tenant, "case", "export_conversation"); err != nil {
			return err
		} else if !ok {
			return errorf(http.StatusForbidden, "forbidden", "your role may not export conversations")
		}
	}
	if err := s.audit(c, auditEntry{Action: "case.export", ObjectType: "case", ObjectID: "*", Details: map[string]string{
		"format": format, "include": include, "filter": c.Request.URL.RawQuery}}); err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="cases-`+time.Now().UTC().Format("20060102T150405Z")+`.`+format+`"`)
	var write func(ExportedCase) error
	var cw *csv.Writer
	switch format {
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		cw = csv.NewWriter(c.Writer)
		if err := cw.Write(exportColumns); err != nil {
			return err
		}
		write = func(e ExportedCase) error { return cw.Write(e.csvRecord()) }
	default:
		c.Header("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(c.Writer)
		write = func(e ExportedCase) error { return enc.Encode(e) }
	}
	c.Status(http.StatusOK)
	n := 0
	err = s.store.ExportCases(c.Request.Context(), p.Tenant, f, func(r store.ExportRow) error {
		e := exportedCase(r, conversation)
		if conversation {
			msgs, _, err := s.store.CaseMessages(c.Request.Context(), r.TenantID, r.ID, 0, workflows.MaxMessagesPerCase+workflows.MaxNotesPerCase, true)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				e.Messages = append(e.Messages, messageFromRow(m))
			}
		}
		if err := write(e); err != nil {
			return err
		}
		if n++; n%store.ExportFlushEvery == 0 {
			if cw != nil {
				cw.Flush()
			}
			c.Writer.Flush()
		}
		return nil
	})
	if cw != nil {
		cw.Flush()
	}
	if err != nil {
		// The status is sent: the client sees a truncated export, and the log why.
		s.log.Error("case export ended early", "tenant", p.Tenant, "rows", n, "err", err)
		c.Abort()
	}
	return nil
}

func exportedCase(r store.ExportRow, conversation bool) ExportedCase {
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		v := t.Sub(r.OpenedAt).Seconds()
		return &v
	}
	e := ExportedCase{ID: r.ID, Status: r.Status, Channel: r.Channel, Priority: r.Priority, Queue: deref(r.Queue), Assignee: deref(r.AssigneeID),
		OpenedAt: r.OpenedAt.UTC(), ClosedAt: utcPtr(r.ClosedAt), FirstResponseAI: since(r.FirstAIAt), FirstResponseHuman: since(r.FirstAgentAt),
		Resolution: since(r.ResolvedAt), ResolutionCode: deref(r.Resolution), EscalationReason: deref(r.EscalationReason),
		CloseReason: deref(r.CloseReason), SLADueAt: utcPtr(r.SLADueAt), SLABreached: r.SLABreachedAt != nil,
		Tags: nonNilSlice(r.Tags), Fields: r.Fields, CSAT: r.CSAT, RefundsPaid: r.RefundsPaid}
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if conversation {
		e.Fields, e.Customer, e.Subject = r.AllFields(), r.CustomerRef, r.Subject
	}
	return e
}

func (e ExportedCase) csvRecord() []string {
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 3, 64)
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	csat := ""
	if e.CSAT != nil {
		csat = strconv.Itoa(*e.CSAT)
	}
	fields, _ := json.Marshal(e.Fields)
	var transcript strings.Builder
	for _, m := range e.Messages {
		who := m.AuthorKind
		if m.Internal {
			who += " (note)"
		}
		fmt.Fprintf(&transcript, "%d %s: %s\n", m.Seq, who, m.Body)
	}
	return []string{e.ID, e.Status, e.Channel, e.Priority, e.Queue, e.Assignee, e.OpenedAt.Format(time.RFC3339Nano), at(e.ClosedAt),
		num(e.FirstResponseAI), num(e.FirstResponseHuman), num(e.Resolution), e.ResolutionCode, e.EscalationReason, e.CloseReason,
		at(e.SLADueAt), strconv.FormatBool(e.SLABreached), strings.Join(e.Tags, ","), string(fields), csat, e.RefundsPaid,
		e.Customer, e.Subject, transcript.String()}
}
