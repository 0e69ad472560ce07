package api

import (
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/policies"
	"tandem/workflows"
)

// MacroRequest is the body of POST /v1/macros and PUT /v1/macros/{id}: a
// name, a reply per language (en, zh-Hans, zh-Hant) with variables, and
// what the macro does to the case. Personal: the caller's own macro; else
// the tenant's, which admins keep.
type MacroRequest struct {
	Name     string             `json:"name"`
	Personal bool               `json:"personal,omitempty"`
	Replies  map[string]string  `json:"replies,omitempty"`
	Actions  store.MacroActions `json:"actions"`
}

// MacroList is the body of GET /v1/macros.
type MacroList struct {
	Macros []store.Macro `json:"macros"`
}

// MacroBody answers a macro's creation or change.
type MacroBody struct {
	Macro store.Macro `json:"macro"`
}

// ApplyMacroRequest is the body of POST /v1/cases/{id}/macros/{macro}:
// the language of the reply (default: en, or the macro's only one).
type ApplyMacroRequest struct {
	Language string `json:"language,omitempty"`
}

// AppliedMacro answers a macro applied: the case after it and its reply.
type AppliedMacro struct {
	Case    CaseJSON     `json:"case"`
	Message *MessageJSON `json:"message,omitempty"`
}

// macroLanguages are the languages a macro replies in.
var macroLanguages = []string{"en", "zh-Hans", "zh-Hant"}

// macroVariable finds {{ name }} in a reply: case.id, case.subject,
// customer.ref, agent.id, or field.<name>.
var macroVariable = regexp.MustCompile(`\{\{\s*([a-z_.]+)\s*\}\}`)

var (
	errMacroNotFound = errorf(http.StatusNotFound, "macro_not_found", "no such macro")
	errMacroAdmins   = errorf(http.StatusForbidden, "forbidden", "only admins keep the tenant's macros; make a personal one")
)

const maxMacroNameRunes = 80

func (s *Server) listMacros(c *gin.Context) error {
	ms, err := s.store.Macros(c.Request.Context(), principalOf(c).Tenant, principalOf(c).ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, MacroList{Macros: nonNilSlice(ms)})
	return nil
}

// createMacro makes a macro: the tenant's (admins), or the caller's own.
func (s *Server) createMacro(c *gin.Context) error {
	return s.writeMacro(c, uuid.NewString(), true)
}

func (s *Server) updateMacro(c *gin.Context) error {
	return s.writeMacro(c, c.Param("id"), false)
}

func (s *Server) writeMacro(c *gin.Context, id string, create bool) error {
	var req MacroRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	owner, err := macroOwner(c, req.Personal)
	if err != nil {
		return err
	}
	if errs, err := s.checkMacro(c, req); err != nil {
		return err
	} else if len(errs) > 0 {
		return validationError(errs)
	}
	now := time.Now().UTC()
	m := store.Macro{TenantID: principalOf(c).Tenant, ID: id, Owner: owner, Name: strings.TrimSpace(req.Name), Replies: req.Replies,
		Actions: req.Actions, CreatedAt: now, UpdatedAt: now, UpdatedBy: principalOf(c).ID}
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		if err := tx.PutMacro(c.Request.Context(), m, create); err != nil {
			return err
		}
		return s.auditTx(c, tx, "macro.put", "macro", m.ID, map[string]string{"name": m.Name, "then": m.Actions.Then,
			"personal": strconv.FormatBool(owner != nil)})
	})
	switch {
	case errors.Is(err, store.ErrMacroNameTaken):
		return errorf(http.StatusConflict, "macro_name_taken", "a macro of that name exists")
	case errors.Is(err, store.ErrNotFound):
		return errMacroNotFound
	case err != nil:
		return err
	}
	if !create {
		if m, err = s.store.Macro(c.Request.Context(), m.TenantID, principalOf(c).ID, m.ID); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	c.JSON(status, MacroBody{Macro: m})
	return nil
}

func (s *Server) deleteMacro(c *gin.Context) error {
	owner, err := macroOwner(c, c.Query("personal") == "true")
	if err != nil {
		return err
	}
	id := c.Param("id")
	return s.deleteAudited(c, "macro", id, errMacroNotFound, func(tx *store.Store) error {
		return tx.DeleteMacro(c.Request.Context(), principalOf(c).Tenant, owner, id)
	})
}

// macroOwner is whose a written macro is: the caller's own, or the tenant's
// for an admin.
func macroOwner(c *gin.Context, personal bool) (*string, error) {
	p := principalOf(c)
	if personal {
		return &p.ID, nil
	}
	if !slices.Contains(p.Roles, policies.RoleAdmin) {
		return nil, errMacroAdmins
	}
	return nil, nil
}

// checkMacro says what is wrong with a macro: its name, replies and their
// variables, and its actions (tags, fields by the schema, then).
func (s *Server) checkMacro(c *gin.Context, req MacroRequest) ([]FieldError, error) {
	var errs []FieldError
	if n := utf8.RuneCountInString(strings.TrimSpace(req.Name)); n == 0 || n > maxMacroNameRunes {
		errs = append(errs, FieldError{"name", "1 to 80 characters"})
	}
	for _, lang := range slices.Sorted(maps.Keys(req.Replies)) {
		text := req.Replies[lang]
		switch {
		case !slices.Contains(macroLanguages, lang):
			errs = append(errs, FieldError{"replies." + lang, "languages are en, zh-Hans, zh-Hant"})
		case workflows.ValidateMessageBody(text) != "":
			errs = append(errs, FieldError{"replies." + lang, workflows.ValidateMessageBody(text)})
		}
		for _, v := range macroVariable.FindAllStringSubmatch(text, -1) {
			name, isField := strings.CutPrefix(v[1], "field.")
			if !(isField && fieldName.MatchString(name)) && !slices.Contains([]string{"case.id", "case.subject", "customer.ref", "agent.id"}, v[1]) {
				errs = append(errs, FieldError{"replies." + lang, "unknown variable {{" + v[1] + "}}: case.id, case.subject, customer.ref, agent.id, field.<name>"})
			}
		}
	}
	a := req.Actions
	switch {
	case !slices.Contains(workflows.MacroThens, a.Then):
		errs = append(errs, FieldError{"actions.then", "one of reply, request_info, resolve"})
	case a.Then != workflows.MacroResolve && len(req.Replies) == 0:
		errs = append(errs, FieldError{"replies", "a macro that replies or asks needs a reply"})
	case a.Then == workflows.MacroResolve && !slices.Contains(workflows.ResolutionCodes, a.Code):
		errs = append(errs, FieldError{"actions.code", "must be one of " + strings.Join(workflows.ResolutionCodes, ", ")})
	case a.Then != workflows.MacroResolve && a.Code != "":
		errs = append(errs, FieldError{"actions.code", "only a macro that resolves has a resolution code"})
	}
	_, fieldErrs, err := s.fieldChanges(c, SetFieldsRequest{AddTags: a.AddTags, RemoveTags: a.RemoveTags, Fields: a.Fields}, "actions.")
	var e *Error
	if errors.As(err, &e) && e.Code == "field_not_allowed" {
		err = nil // who may set a field is checked when the macro is applied
	}
	return append(errs, fieldErrs...), err
}

// applyMacro applies a macro to a case its owner works, as one update: the
// reply rendered for the case, the tags and fields, then the status.
func (s *Server) applyMacro(c *gin.Context) error {
	var req ApplyMacroRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	m, err := s.store.Macro(c.Request.Context(), row.TenantID, principalOf(c).ID, c.Param("macro"))
	if errors.Is(err, store.ErrNotFound) {
		return errMacroNotFound
	}
	if err != nil {
		return err
	}
	body, ferr := renderMacro(m, req.Language, row, principalOf(c).ID)
	if ferr != nil {
		return validationError([]FieldError{*ferr})
	}
	a := m.Actions
	fields, errs, err := s.fieldChanges(c, SetFieldsRequest{AddTags: a.AddTags, RemoveTags: a.RemoveTags, Fields: a.Fields}, "actions.")
	if err != nil {
		return err
	}
	if len(errs) > 0 { // the schema changed since the macro was written
		return errorf(http.StatusConflict, "macro_outdated", "the macro no longer fits the tenant's fields: "+errs[0].Field+" "+errs[0].Message)
	}
	in := workflows.ApplyMacroInput{Actor: actorOf(c), MacroID: m.ID, Body: body, Fields: fields, Then: a.Then, Code: a.Code}
	if a.Then == workflows.MacroResolve {
		if in.Required, err = s.requiredFields(c); err != nil {
			return err
		}
	}
	id, err := s.updateID(c, row, workflows.UpdateApplyMacro)
	if err != nil {
		return err
	}
	in.ClientKey, _ = idempotencyKey(c) // checked by updateID
	var res workflows.PostMessageResult
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, workflows.UpdateApplyMacro, id, in), &res); err != nil {
		return err
	}
	out := AppliedMacro{Case: caseFromState(res.Case)}
	if body != "" {
		ex, err := s.exchange(c.Request.Context(), row.TenantID, row.ID, res, body)
		if err != nil {
			return err
		}
		out.Message = &ex.Message
	}
	if err := s.store.CountMacroUse(c.Request.Context(), row.TenantID, row.ID, id, m.ID); err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// renderMacro is the macro's reply in the language asked for (or English,
// or its only one) with its variables filled from the case; a field it
// names that the case has not set is refused.
func renderMacro(m store.Macro, lang string, row store.Case, agentID string) (string, *FieldError) {
	if len(m.Replies) == 0 {
		return "", nil
	}
	text, ok := m.Replies[lang]
	if !ok {
		if lang != "" {
			return "", &FieldError{"language", "the macro has no reply in " + lang}
		}
		if text, ok = m.Replies["en"]; !ok {
			langs := slices.Sorted(maps.Keys(m.Replies))
			text = m.Replies[langs[0]]
		}
	}
	var missing *FieldError
	out := macroVariable.ReplaceAllStringFunc(text, func(v string) string {
		name := macroVariable.FindStringSubmatch(v)[1]
		switch name {
		case "case.id":
			return row.ID
		case "case.subject":
			return row.Subject
		case "customer.ref":
			return row.CustomerRef
		case "agent.id":
			return agentID
		}
		field := strings.TrimPrefix(name, "field.")
		if val, ok := row.Fields[field]; ok {
			return val
		}
		if val, ok := row.TextFields[field]; ok {
			return val
		}
		missing = &FieldError{"fields." + field, "the macro uses {{" + name + "}}, which this case has not set"}
		return v
	})
	return out, missing
}
