package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies/service"
	"tandem/workflows"
)

func (s *Server) getServicePolicy(c *gin.Context) error {
	p, err := s.store.ServicePolicy(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"policy": p})
	return nil
}

// setServicePolicy takes {"profile": "<name>"} to switch to an embedded
// profile, or a whole policy document. New cases pin the new version; open
// cases keep theirs.
func (s *Server) setServicePolicy(c *gin.Context) error {
	var raw json.RawMessage
	if err := decodeJSON(c, &raw); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return errorf(http.StatusBadRequest, "malformed_json", "the body must be a JSON object")
	}
	var policy service.Policy
	var err error
	var name string
	if _, ok := fields["profile"]; ok && len(fields) == 1 && json.Unmarshal(fields["profile"], &name) == nil {
		policy, err = service.Profile(name)
	} else {
		policy, err = service.Parse(raw)
	}
	if err != nil {
		return validationError([]FieldError{{"policy", err.Error()}})
	}
	if errs, err := s.checkRules(c, policy.Routing.Rules); err != nil || len(errs) > 0 {
		if err != nil {
			return err
		}
		return validationError(errs)
	}
	p := principalOf(c)
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if policy, err = tx.SetServicePolicy(c.Request.Context(), p.Tenant, policy, p.ID); err != nil {
			return err
		}
		return s.auditTx(c, tx, "service_policy.set", "service_policy", strconv.FormatInt(policy.Version, 10),
			map[string]string{"profile": policy.Profile, "version": strconv.FormatInt(policy.Version, 10)})
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"policy": policy})
	return nil
}

// checkRules checks what a policy's rules name against the tenant: a
// channel there is, fields its schema defines that are not sealed, each
// value as the field's type wants it, which it writes in canonical form.
func (s *Server) checkRules(c *gin.Context, rules []service.RoutingRule) ([]FieldError, error) {
	var errs []FieldError
	var schema []store.CaseField
	for i, r := range rules {
		at := "routing.rules[" + strconv.Itoa(i) + "]"
		if r.Channel != "" && !slices.Contains(workflows.Channels, r.Channel) {
			errs = append(errs, FieldError{at + ".channel", "one of " + strings.Join(workflows.Channels, ", ")})
		}
		if len(r.SetFields) == 0 {
			continue
		}
		if schema == nil {
			var err error
			if schema, err = s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant); err != nil {
				return nil, err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(r.SetFields)) {
			v, msg := filterValue(schema, name, r.SetFields[name])
			if msg != "" {
				errs = append(errs, FieldError{at + ".set_fields." + name, msg})
				continue
			}
			r.SetFields[name] = v
		}
	}
	return errs, nil
}
