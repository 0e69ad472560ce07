// Package policies decides who may do what: the casbin model and default
// policy (embedded from model.conf and policy.csv) and the roles they name.
package policies

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var policyText string

// Roles a principal can hold.
const (
	RoleService    = "service"
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
	RoleFinance    = "finance"
	RoleCompliance = "compliance"
	RoleAdmin      = "admin"
)

// Roles lists every role, for validating credentials that name them.
var Roles = []string{RoleService, RoleAgent, RoleSupervisor, RoleFinance, RoleCompliance, RoleAdmin}

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// Authorizer answers whether a set of roles may perform an action in a tenant.
type Authorizer struct {
	enforcer *casbin.SyncedCachedEnforcer
}

// NewAuthorizer loads the embedded model and default policy.
func NewAuthorizer() (*Authorizer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("load casbin model: %w", err)
	}
	e, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("new enforcer: %w", err)
	}
	for i, line := range strings.Split(policyText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := persist.LoadPolicyLine(line, e.GetModel()); err != nil {
			return nil, fmt.Errorf("policy.csv line %d: %w", i+1, err)
		}
	}
	if err := e.BuildRoleLinks(); err != nil {
		return nil, fmt.Errorf("build role links: %w", err)
	}
	return &Authorizer{enforcer: e}, nil
}

// Allowed reports whether any of roles may do act on obj in tenant. An error
// means the decision could not be made, and the caller must deny with 500.
func (a *Authorizer) Allowed(roles []string, tenant, obj, act string) (bool, error) {
	for _, role := range roles {
		ok, err := a.enforcer.Enforce(role, tenant, obj, act)
		if err != nil {
			return false, fmt.Errorf("enforce %s %s %s %s: %w", role, tenant, obj, act, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
