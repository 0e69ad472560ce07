package workflows

import "go.temporal.io/sdk/workflow"

// Metrics the workflows emit, through the SDK's metrics handler, which
// emits nothing while a workflow replays: each transition counts once
// (twice only if a worker dies between doing it and committing it).
const (
	MetricCasesOpened    = "tandem_cases_opened"    // a case opened
	MetricCasesEscalated = "tandem_cases_escalated" // by reason (a reason code)
	MetricCasesResolved  = "tandem_cases_resolved"  // by "ai" or "person"
	MetricSLAWarnings    = "tandem_sla_warnings"    // by clock
	MetricSLABreaches    = "tandem_sla_breaches"    // by clock
	MetricRefunds        = "tandem_refunds"         // refund steps, by status and kind
)

// countTransitions counts what a committed projection write records: its
// audit entries are the case's transitions.
func countTransitions(ctx workflow.Context, audit []AuditRecord) {
	m := workflow.GetMetricsHandler(ctx)
	for _, a := range audit {
		switch a.Action {
		case AuditCaseOpen:
			m.Counter(MetricCasesOpened).Inc(1)
		case AuditCaseEscalate:
			m.WithTags(map[string]string{"reason": a.Reason}).Counter(MetricCasesEscalated).Inc(1)
		case AuditCaseResolve:
			by := "person"
			if a.Actor.Kind == AuthorAI || a.Details["by"] == AuthorAI {
				by = AuthorAI
			}
			m.WithTags(map[string]string{"by": by}).Counter(MetricCasesResolved).Inc(1)
		case AuditSLAWarning:
			m.WithTags(map[string]string{"clock": a.Reason}).Counter(MetricSLAWarnings).Inc(1)
		case AuditSLABreach:
			m.WithTags(map[string]string{"clock": a.Reason}).Counter(MetricSLABreaches).Inc(1)
		}
	}
}
