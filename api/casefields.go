package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies"
	"tandem/workflows"
)

// CaseFieldRequest is the body of PUT /v1/admin/case-fields/{name}.
type CaseFieldRequest struct {
	Type     string   `json:"type"`              // text, number, enum, date, boolean
	Required bool     `json:"required"`          // a case needs it before it is resolved
	Options  []string `json:"options,omitempty"` // an enum's values
	Roles    []string `json:"roles,omitempty"`   // who may set it; none: whoever may work the case
}

// CaseFieldList is the body of GET /v1/admin/case-fields.
type CaseFieldList struct {
	Fields []store.CaseField `json:"fields"`
}

// CaseFieldBody answers a field's creation or change.
type CaseFieldBody struct {
	Field store.CaseField `json:"field"`
}

// SetFieldsRequest is the body of POST /v1/cases/{id}/fields: tags to add
// and remove, and field values to set (a string, number or boolean, as the
// field's type wants) or clear (null).
type SetFieldsRequest struct {
	AddTags    []string                   `json:"add_tags,omitempty"`
	RemoveTags []string                   `json:"remove_tags,omitempty"`
	Fields     map[string]json.RawMessage `json:"fields,omitempty"`
}

var (
	fieldName        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	tagPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	errFieldNotFound = errorf(http.StatusNotFound, "case_field_not_found", "no such case field")
)

const (
	maxFieldOptions   = 50
	maxOptionRunes    = 64
	maxTextFieldRunes = 500
)

// caseFields lists the tenant's custom fields.
func (s *Server) caseFields(c *gin.Context) error {
	fields, err := s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, CaseFieldList{Fields: nonNilSlice(fields)})
	return nil
}

// putCaseField creates or replaces a custom field (201 created, 200
// replaced); cases keep the values they have.
func (s *Server) putCaseField(c *gin.Context) error {
	var req CaseFieldRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if errs := req.validate(); len(errs) > 0 {
		return validationError(errs)
	}
	f := store.CaseField{TenantID: principalOf(c).Tenant, Name: c.Param("name"), Type: req.Type, Required: req.Required,
		Options: req.Options, Roles: slices.Compact(slices.Sorted(slices.Values(req.Roles))), UpdatedAt: time.Now().UTC(), UpdatedBy: principalOf(c).ID}
	var created bool
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if created, err = tx.PutCaseField(c.Request.Context(), f); err != nil {
			return err
		}
		return s.auditTx(c, tx, "case_field.put", "case_field", f.Name, map[string]string{"type": f.Type,
			"required": strconv.FormatBool(f.Required), "options": strings.Join(f.Options, ","), "roles": strings.Join(f.Roles, ",")})
	})
	if errors.Is(err, store.ErrTooManyFields) {
		return errorf(http.StatusConflict, "too_many_fields", err.Error())
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, CaseFieldBody{Field: f})
	return nil
}

func (r CaseFieldRequest) validate() []FieldError {
	var errs []FieldError
	if !slices.Contains(store.FieldTypes, r.Type) {
		errs = append(errs, FieldError{"type", "must be one of " + strings.Join(store.FieldTypes, ", ")})
	}
	switch {
	case r.Type == "enum" && (len(r.Options) == 0 || len(r.Options) > maxFieldOptions):
		errs = append(errs, FieldError{"options", "an enum needs 1 to 50 options"})
	case r.Type != "enum" && len(r.Options) > 0:
		errs = append(errs, FieldError{"options", "only an enum has options"})
	}
	for i, o := range r.Options {
		if o == "" || utf8.RuneCountInString(o) > maxOptionRunes || slices.Index(r.Options, o) != i {
			errs = append(errs, FieldError{"options", "each option must be 1 to 64 characters, and different"})
			break
		}
	}
	for _, role := range r.Roles {
		if !slices.Contains(policies.Roles, role) || role == policies.RoleService {
			errs = append(errs, FieldError{"roles", "each one of the staff's roles: agent, supervisor, finance, compliance, admin"})
			break
		}
	}
	return errs
}

// deleteCaseField removes a field from the schema.
func (s *Server) deleteCaseField(c *gin.Context) error {
	tenant, name := principalOf(c).Tenant, c.Param("name")
	return s.deleteAudited(c, "case_field", name, errFieldNotFound, func(tx *store.Store) error {
		return tx.DeleteCaseField(c.Request.Context(), tenant, name)
	})
}

// deleteAudited removes a tenant's record and appends its deletion to the
// trail in one transaction; 204, or notFound.
func (s *Server) deleteAudited(c *gin.Context, objType, id string, notFound *Error, del func(*store.Store) error) error {
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		if err := del(tx); err != nil {
			return err
		}
		return s.auditTx(c, tx, objType+".delete", objType, id, nil)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// setCaseFields tags a case the caller may work and sets its fields, each
// checked against the tenant's schema: its type, and whether the caller's
// roles may set it.
func (s *Server) setCaseFields(c *gin.Context) error {
	return s.caseAction(c, workflows.UpdateSetFields, func() (any, error) {
		var req SetFieldsRequest
		if err := decodeJSON(c, &req); err != nil {
			return nil, err
		}
		in, errs, err := s.fieldChanges(c, req, "")
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			return nil, validationError(errs)
		}
		return in, nil
	})
}

// fieldChanges checks tags and field values against the tenant's schema
// for the caller (prefix names where they came from in the request).
func (s *Server) fieldChanges(c *gin.Context, req SetFieldsRequest, prefix string) (workflows.SetFieldsInput, []FieldError, error) {
	in := workflows.SetFieldsInput{Actor: actorOf(c), AddTags: req.AddTags, RemoveTags: req.RemoveTags}
	errs := checkTags(prefix, req)
	if len(req.Fields) > workflows.MaxFieldsPerCase {
		errs = append(errs, FieldError{prefix + "fields", "at most 50 fields"})
	}
	if len(req.Fields) == 0 {
		return in, errs, nil
	}
	schema, err := s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return in, nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(req.Fields)) {
		i := slices.IndexFunc(schema, func(f store.CaseField) bool { return f.Name == name })
		if i < 0 {
			errs = append(errs, FieldError{prefix + "fields." + name, "no such field: an admin defines fields (PUT /v1/admin/case-fields/{name})"})
			continue
		}
		f := schema[i]
		if len(f.Roles) > 0 && !slices.ContainsFunc(principalOf(c).Roles, func(r string) bool { return slices.Contains(f.Roles, r) }) {
			return in, nil, errorf(http.StatusForbidden, "field_not_allowed", "your roles may not set the field "+name)
		}
		raw := req.Fields[name]
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			in.Clear = append(in.Clear, name)
			continue
		}
		v, msg := fieldValue(f, raw)
		if msg != "" {
			errs = append(errs, FieldError{prefix + "fields." + name, msg})
			continue
		}
		in.Set = append(in.Set, workflows.FieldValue{Name: name, Value: v, Sealed: f.Type == "text"})
	}
	return in, errs, nil
}

func checkTags(prefix string, req SetFieldsRequest) []FieldError {
	var errs []FieldError
	for _, list := range []struct {
		name string
		tags []string
	}{{"add_tags", req.AddTags}, {"remove_tags", req.RemoveTags}} {
		if len(list.tags) > workflows.MaxTagsPerCase {
			errs = append(errs, FieldError{prefix + list.name, "at most 20 tags"})
		}
		for _, t := range list.tags {
			if !tagPattern.MatchString(t) {
				errs = append(errs, FieldError{prefix + list.name, "each tag is 1 to 40 lowercase letters, digits, - or _, starting with a letter or digit"})
				break
			}
		}
	}
	return errs
}

// fieldValue reads a field's value from JSON, as its type wants it, into
// its canonical text; or says what is wrong with it.
func fieldValue(f store.CaseField, raw json.RawMessage) (string, string) {
	switch f.Type {
	case "number":
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil || math.IsInf(n, 0) || math.IsNaN(n) || math.Abs(n) > 1e15 {
			return "", "must be a number (at most 1e15 in size)"
		}
		return strconv.FormatFloat(n, 'f', -1, 64), ""
	case "boolean":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", "must be true or false"
		}
		return strconv.FormatBool(b), ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "must be a string"
	}
	switch f.Type {
	case "enum":
		if !slices.Contains(f.Options, s) {
			return "", "must be one of " + strings.Join(f.Options, ", ")
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "", "must be a date, YYYY-MM-DD"
		}
	default: // text
		if s == "" || utf8.RuneCountInString(s) > maxTextFieldRunes || strings.ContainsFunc(s, isControlNotSpace) {
			return "", "must be 1 to 500 characters, none of them control characters but line breaks and tabs"
		}
	}
	return s, ""
}

// fieldFilters reads ?tag=a,b and ?field.<name>=value of a case listing:
// each field one of the tenant's not sealed (a text field's values are
// sealed, and cannot be compared), its value as its type wants it.
func (s *Server) fieldFilters(c *gin.Context, f *store.ListFilter) ([]FieldError, error) {
	var errs []FieldError
	for _, v := range c.QueryArray("tag") {
		for _, t := range strings.Split(v, ",") {
			if !tagPattern.MatchString(t) {
				errs = append(errs, FieldError{"tag", "each tag is 1 to 40 lowercase letters, digits, - or _"})
				break
			}
			f.Tags = append(f.Tags, t)
		}
	}
	var schema []store.CaseField
	for key, values := range c.Request.URL.Query() {
		name, ok := strings.CutPrefix(key, "field.")
		if !ok {
			continue
		}
		if schema == nil {
			var err error
			if schema, err = s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant); err != nil {
				return nil, err
			}
		}
		v, msg := filterValue(schema, name, values[0])
		if msg != "" {
			errs = append(errs, FieldError{key, msg})
			continue
		}
		if f.Fields == nil {
			f.Fields = map[string]string{}
		}
		f.Fields[name] = v
	}
	return errs, nil
}

// filterValue is a filter's value of a field as its type makes it
// canonical, or what is wrong: no such field, a text field (its values are
// sealed), a value not of its type.
func filterValue(schema []store.CaseField, name, value string) (string, string) {
	i := slices.IndexFunc(schema, func(f store.CaseField) bool { return f.Name == name })
	switch {
	case i < 0:
		return "", "no such field"
	case schema[i].Type == "text":
		return "", "a text field's values are sealed and cannot be filtered on"
	}
	raw, _ := json.Marshal(value)
	if schema[i].Type == "number" || schema[i].Type == "boolean" {
		raw = []byte(value)
	}
	return fieldValue(schema[i], raw)
}

// requiredFields are the fields the tenant's schema wants set before a
// case is resolved.
func (s *Server) requiredFields(c *gin.Context) ([]string, error) {
	schema, err := s.store.CaseFields(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range schema {
		if f.Required {
			out = append(out, f.Name)
		}
	}
	return out, nil
}

func isControlNotSpace(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f
}

func nonNilSlice[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
