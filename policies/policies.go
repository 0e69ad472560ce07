// Package policies decides who may do what: the casbin model and default
// policy (embedded from model.conf and policy.csv) and the roles they name.
package policies

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

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

// Authorizer answers whether a set of roles may perform an action in a
// tenant. Its rules can be replaced while it serves (Load).
type Authorizer struct {
	enforcer atomic.Pointer[casbin.SyncedCachedEnforcer]
}

// DefaultRules are the lines of the embedded policy.csv, as
// [ptype, v0, v1, ...] rows.
func DefaultRules() ([][]string, error) {
	var rules [][]string
	for i, line := range strings.Split(policyText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var rule []string
		for _, f := range strings.Split(line, ",") {
			rule = append(rule, strings.TrimSpace(f))
		}
		if (rule[0] != "p" || len(rule) != 6) && (rule[0] != "g" || len(rule) != 3) {
			return nil, fmt.Errorf("policy.csv line %d: want p, role, tenant, object, action, effect or g, role, parent role", i+1)
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// NewAuthorizer returns an authorizer with the embedded default rules.
func NewAuthorizer() (*Authorizer, error) {
	rules, err := DefaultRules()
	if err != nil {
		return nil, err
	}
	a := &Authorizer{}
	return a, a.Load(rules)
}

// Load replaces the rules: a new enforcer is built aside and swapped in, so
// checks in flight see either the old rules or the new ones.
func (a *Authorizer) Load(rules [][]string) error {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return fmt.Errorf("load casbin model: %w", err)
	}
	e, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		return fmt.Errorf("new enforcer: %w", err)
	}
	for _, rule := range rules {
		if err := persist.LoadPolicyArray(rule, e.GetModel()); err != nil {
			return fmt.Errorf("policy rule %v: %w", rule, err)
		}
	}
	if err := e.BuildRoleLinks(); err != nil {
		return fmt.Errorf("build role links: %w", err)
	}
	a.enforcer.Store(e)
	return nil
}

// Allowed reports whether any of roles may do act on obj in tenant. An error
// means the decision could not be made, and the caller must deny with 500.
func (a *Authorizer) Allowed(roles []string, tenant, obj, act string) (bool, error) {
	e := a.enforcer.Load()
	if e == nil {
		return false, errors.New("no policy loaded")
	}
	for _, role := range roles {
		ok, err := e.Enforce(role, tenant, obj, act)
		if err != nil {
			return false, fmt.Errorf("enforce %s %s %s %s: %w", role, tenant, obj, act, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
