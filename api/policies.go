package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies"
)

// PolicyGrant is one rule a tenant's administrator manages: role may (effect
// "allow", the default) or may not ("deny", which wins over any allow) do
// action on object, in the administrator's own tenant.
type PolicyGrant struct {
	Role   string `json:"role"`
	Object string `json:"object"`
	Action string `json:"action"`
	Effect string `json:"effect,omitempty"`
}

// PolicyRuleJSON is a stored rule as the API lists it.
type PolicyRuleJSON struct {
	Type   string `json:"type"` // grant (p) or inherit (g)
	Role   string `json:"role"`
	Tenant string `json:"tenant,omitempty"` // "*": every tenant
	Object string `json:"object,omitempty"`
	Action string `json:"action,omitempty"`
	Effect string `json:"effect,omitempty"`
	Parent string `json:"parent,omitempty"`
}

var policyWord = regexp.MustCompile(`^[a-z][a-z_]{0,39}$`)

// listPolicies shows the rules that apply in the caller's tenant: the
// defaults for every tenant and the tenant's own grants.
func (s *Server) listPolicies(c *gin.Context) error {
	rows, _, err := s.store.PolicyRules(c.Request.Context())
	if err != nil {
		return err
	}
	tenant := principalOf(c).Tenant
	out := []PolicyRuleJSON{}
	for _, r := range rows {
		switch {
		case r[0] == "g":
			out = append(out, PolicyRuleJSON{Type: "inherit", Role: r[1], Parent: r[2]})
		case r[2] == "*" || r[2] == tenant:
			out = append(out, PolicyRuleJSON{Type: "grant", Role: r[1], Tenant: r[2], Object: r[3], Action: r[4], Effect: r[5]})
		}
	}
	c.JSON(http.StatusOK, gin.H{"rules": out})
	return nil
}

func (s *Server) changePolicy(add bool) handlerFunc {
	return func(c *gin.Context) error {
		var g PolicyGrant
		if err := decodeJSON(c, &g); err != nil {
			return err
		}
		var errs []FieldError
		if !policies.ValidRole(g.Role) {
			errs = append(errs, FieldError{"role", "must be one of " + strings.Join(policies.Roles, ", ")})
		}
		if !policyWord.MatchString(g.Object) {
			errs = append(errs, FieldError{"object", "must be lower-case letters and _"})
		}
		if !policyWord.MatchString(g.Action) {
			errs = append(errs, FieldError{"action", "must be lower-case letters and _"})
		}
		if g.Effect == "" {
			g.Effect = "allow"
		}
		if g.Effect != "allow" && g.Effect != "deny" {
			errs = append(errs, FieldError{"effect", "must be allow or deny"})
		}
		if g.Effect == "deny" && g.Object == "policy" {
			// Denying policy management could lock every administrator out for good.
			errs = append(errs, FieldError{"object", "policy management cannot be denied"})
		}
		if len(errs) > 0 {
			return validationError(errs)
		}
		// The tenant is the administrator's own: grants for every tenant, and
		// other tenants' grants, are not theirs to change.
		tenant := principalOf(c).Tenant
		row := []string{"p", g.Role, tenant, g.Object, g.Action, g.Effect}
		action := "policy.remove"
		if add {
			action = "policy.add"
		}
		changed := false
		err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
			var err error
			if add {
				changed, err = tx.AddPolicyRule(c.Request.Context(), row)
			} else {
				changed, err = tx.RemovePolicyRule(c.Request.Context(), row)
			}
			if err != nil || !changed {
				return err
			}
			return s.auditTx(c, tx, action, "policy", g.Role+":"+g.Object+":"+g.Action+":"+g.Effect,
				map[string]string{"role": g.Role, "object": g.Object, "action": g.Action, "effect": g.Effect})
		})
		if err == nil && changed {
			_, err = SyncPolicies(c.Request.Context(), s.store, s.authz, -1)
		}
		if err != nil {
			return err
		}
		if !add && !changed {
			return errorf(http.StatusNotFound, "rule_not_found", "your tenant has no such grant")
		}
		status := http.StatusOK
		if add && changed {
			status = http.StatusCreated
		}
		c.JSON(status, gin.H{"rule": PolicyRuleJSON{Type: "grant", Role: g.Role, Tenant: tenant, Object: g.Object, Action: g.Action, Effect: g.Effect}})
		return nil
	}
}

// PolicyRecords is where the stored rules and their version are read
// (*store.Store).
type PolicyRecords interface {
	PolicyRules(ctx context.Context) ([][]string, int64, error)
	PolicyVersion(ctx context.Context) (int64, error)
}

// SyncPolicies loads the stored rules into authz if their version differs
// from have, and returns the version it has now. Every API instance calls it
// after its own changes and periodically, to pick up other instances' changes.
func SyncPolicies(ctx context.Context, st PolicyRecords, authz *policies.Authorizer, have int64) (int64, error) {
	v, err := st.PolicyVersion(ctx)
	if err != nil || v == have {
		return have, err
	}
	rows, v, err := st.PolicyRules(ctx)
	if err != nil {
		return have, err
	}
	if len(rows) == 0 {
		return have, errors.New("no policy rules stored: refusing to load an empty policy (run tandem seed)")
	}
	if err := authz.Load(rows); err != nil {
		return have, err
	}
	return v, nil
}
