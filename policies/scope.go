package policies

import "slices"

// Scope is the set of a tenant's cases a person may see and act on.
type Scope int

const (
	// ScopeTenant: every case of the tenant.
	ScopeTenant Scope = iota
	// ScopeAssigned: cases assigned to them, or waiting unassigned in one of their queues.
	ScopeAssigned
)

// CaseScope is the attribute rule on top of the role grants: a person whose
// only case role is agent works the cases assigned to them or waiting in
// their queues; supervisors, finance, compliance and admins see the tenant's;
// services see the tenant's, as the front end of every customer.
func CaseScope(roles []string) Scope {
	for _, r := range roles {
		if r != RoleAgent {
			return ScopeTenant
		}
	}
	return ScopeAssigned
}

// AgentScope is what a person with ScopeAssigned sees: the cases assigned to
// them, and the cases waiting unassigned in the queues they work. The rule
// is here once, as a predicate (Sees) and as SQL over the case projection
// (Where); a test holds the two to each other.
type AgentScope struct {
	AgentID string
	Queues  []string
}

// Sees says whether a case with this assignee and queue ("" for none) is in the scope.
func (a AgentScope) Sees(assignee, queue string) bool {
	if assignee != "" {
		return assignee == a.AgentID
	}
	return queue != "" && slices.Contains(a.Queues, queue)
}

// Where is Sees as a condition on the cases table, with its arguments.
func (a AgentScope) Where() (string, []any) {
	queues := append([]string{""}, a.Queues...) // IN () is not SQL; no queue is named ""
	return "(assignee_id = ? OR (assignee_id IS NULL AND queue IN ?))", []any{a.AgentID, queues}
}
