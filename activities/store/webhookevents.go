package store

import (
	"encoding/json"
	"strconv"

	"tandem/workflows"
)

// caseWebhookEvents are the webhook events of a projection write: one or
// two per transition its audit entries record, in their order, under their
// IDs. A message is sent as its customer sees it.
func caseWebhookEvents(c Case, msgs []Message, audit []AuditEvent) []WebhookEvent {
	bySeq := map[int64]Message{}
	for _, m := range msgs {
		bySeq[m.Seq] = m
	}
	var out []WebhookEvent
	add := func(e AuditEvent, suffix, typ string, data map[string]any) {
		out = append(out, WebhookEvent{ID: e.ID + suffix, CaseID: c.ID, Type: typ, Data: data, OccurredAt: e.OccurredAt})
	}
	caseData := func(extra map[string]any) map[string]any {
		d := map[string]any{"case_id": c.ID, "status": c.Status, "channel": c.Channel, "priority": c.Priority}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	for _, e := range audit {
		var details map[string]any
		_ = json.Unmarshal([]byte(e.Details), &details) // appendAudit has checked it is JSON
		message := func() {
			seq, _ := strconv.ParseInt(str(details["message_seq"]), 10, 64)
			if m, ok := bySeq[seq]; ok && m.AuthorKind != workflows.AuthorCustomer {
				add(e, ":message", "message.created", map[string]any{"case_id": c.ID, "message": webhookMessage(m)})
			}
		}
		switch e.Action {
		case workflows.AuditCaseOpen:
			add(e, "", "case.opened", caseData(nil))
		case workflows.AuditCaseReply:
			message()
		case workflows.AuditCaseNote:
			add(e, "", "note.created", map[string]any{"case_id": c.ID, "note_seq": details["message_seq"], "author_id": e.ActorID,
				"mentions": details["mentions"]})
		case workflows.AuditCaseMacro:
			if details["message_seq"] != nil {
				message()
			}
			if details["tags"] != nil {
				add(e, ":fields", "case.fields_changed", caseData(map[string]any{"tags": nonNil(c.Tags), "fields": c.AllFields()}))
			}
			switch str(details["then"]) {
			case workflows.MacroRequestInfo:
				add(e, "", "case.waiting_on_customer", caseData(nil))
			case workflows.MacroResolve:
				add(e, "", "case.resolved", caseData(map[string]any{"by": e.ActorKind}))
				add(e, ":csat", "csat.requested", map[string]any{"case_id": c.ID})
			}
		case workflows.AuditCaseFields:
			add(e, "", "case.fields_changed", caseData(map[string]any{"tags": nonNil(c.Tags), "fields": c.AllFields()}))
		case workflows.AuditCaseRequestInfo:
			message()
			add(e, "", "case.waiting_on_customer", caseData(nil))
		case workflows.AuditCaseEscalate:
			add(e, "", "case.escalated", caseData(map[string]any{"reason": e.Reason}))
		case workflows.AuditCaseClaim, workflows.AuditCaseReassign:
			add(e, "", "case.assigned", caseData(map[string]any{"assignee": deref(c.AssigneeID)}))
		case workflows.AuditCaseResolve:
			add(e, "", "case.resolved", caseData(map[string]any{"by": e.ActorKind}))
			add(e, ":csat", "csat.requested", map[string]any{"case_id": c.ID})
		case workflows.AuditCaseClose:
			extra := map[string]any{"reason": e.Reason}
			if into := str(details["merged_into"]); into != "" {
				extra["merged_into"] = into // front ends follow the case it was merged into
			}
			add(e, "", "case.closed", caseData(extra))
		case workflows.AuditSLAWarning:
			add(e, "", "sla.warning", caseData(map[string]any{"clock": e.Reason}))
		case workflows.AuditSLABreach:
			add(e, "", "sla.breached", caseData(map[string]any{"clock": e.Reason}))
		case workflows.AuditRefundRequest:
			add(e, "", "refund.requested", map[string]any{"case_id": c.ID, "refund_id": details["refund_id"], "kind": details["kind"],
				"amount": details["amount"], "currency": details["currency"], "reason_code": e.Reason})
		}
		// The policy's rules tagged the case or set its fields on a
		// customer's message.
		if e.Action != workflows.AuditCaseFields && e.Action != workflows.AuditCaseMacro && (details["rule_tags"] != nil || details["rule_fields"] != nil) {
			add(e, ":fields", "case.fields_changed", caseData(map[string]any{"tags": nonNil(c.Tags), "fields": c.AllFields()}))
		}
	}
	return out
}

// refundWebhookEvents are the webhook events of a refund saga's step.
func refundWebhookEvents(r Refund, e AuditEvent) []WebhookEvent {
	typ := ""
	switch e.Action {
	case workflows.AuditRefundApprove, workflows.AuditRefundReject:
		typ = "refund.decided"
	case workflows.AuditRefundPaid, workflows.AuditRefundIssued:
		typ = "refund.paid"
	case workflows.AuditRefundFailed:
		typ = "refund.failed"
	default:
		return nil
	}
	return []WebhookEvent{{ID: e.ID, CaseID: r.CaseID, Type: typ, OccurredAt: e.OccurredAt, Data: map[string]any{
		"case_id": r.CaseID, "refund_id": r.ID, "status": r.Status, "rule": r.Rule, "kind": r.Kind, "amount": r.Amount, "currency": r.Currency}}}
}

// webhookMessage is a message as its customer sees it, with the marks of an AI answer.
func webhookMessage(m Message) map[string]any {
	out := map[string]any{"seq": m.Seq, "author_kind": m.AuthorKind, "body": m.Body, "at": m.CreatedAt.UTC()}
	if len(m.Attachments) > 0 {
		out["attachment_ids"] = m.Attachments // GET /v1/cases/{id}/attachments/{attachment}
	}
	if m.AuthorKind == workflows.AuthorAI {
		out["author_id"], out["model"], out["article_id"], out["ai_disclosure"] = m.AuthorID, deref(m.Model), deref(m.ArticleID), m.AIDisclosure
		if m.ArticleVersion != nil {
			out["article_version"] = *m.ArticleVersion
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
