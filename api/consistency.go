package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tandem/activities/consistency"
)

// checkConsistency answers GET /v1/admin/consistency (a report) and POST
// /v1/admin/consistency/repair (a report after repairing): each open case's
// record against its workflow's committed state (consistency.Report).
// ?limit= bounds the cases read (default 1000, at most 10000). Audited.
func (s *Server) checkConsistency(repair bool) handlerFunc {
	return func(c *gin.Context) error {
		limit, limitErr := pageLimit(c, 1000, consistency.MaxCases)
		if limitErr != nil {
			return validationError([]FieldError{*limitErr})
		}
		tenant := principalOf(c).Tenant
		checker := &consistency.Checker{Store: s.store, Temporal: s.temporal, Namespace: s.namespace, Limit: limit}
		rep, err := checker.Check(c.Request.Context(), tenant, repair)
		if err != nil {
			return err
		}
		action := "consistency.check"
		if repair {
			action = "consistency.repair"
		}
		details := map[string]string{"checked": strconv.Itoa(rep.Checked), "differences": strconv.Itoa(len(rep.Differences)),
			"repaired": strconv.Itoa(rep.Repaired)}
		if err := s.audit(c, auditEntry{Action: action, ObjectType: "tenant", ObjectID: tenant, Details: details}); err != nil {
			return err
		}
		c.JSON(http.StatusOK, rep)
		return nil
	}
}
