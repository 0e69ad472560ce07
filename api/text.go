package api

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Every string a request carries into SQL or the audit chain is valid UTF-8
// without control characters: PostgreSQL refuses a NUL in text (which would
// be a 500), a NUL or stray byte in the permanent chain cannot be taken
// back, and neither means anything in a name, a code or a query. Free text
// (a message, an article) may hold tabs and line breaks; nothing else may.

// badText says what is wrong with s as text, or "".
func badText(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if r == '\t' || (multiline && (r == '\n' || r == '\r')) {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "must not hold control characters"
		}
	}
	return ""
}

// errBadText is the 400 for a field whose text is not acceptable.
func errBadText(field, why string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_text", Message: "a field holds text that is not accepted",
		Fields: []FieldError{{Field: field, Message: why}}}
}

// checkQueryText refuses a request whose query parameters or path segments
// are not acceptable text, before any handler reads them.
func (s *Server) checkQueryText(c *gin.Context) {
	for name, values := range c.Request.URL.Query() {
		for _, v := range append(values, name) {
			if why := badText(v, false); why != "" {
				respondError(c, s.log, errBadText(name, why))
				return
			}
		}
	}
	for _, p := range c.Params {
		if why := badText(p.Value, false); why != "" {
			respondError(c, s.log, errorf(http.StatusNotFound, "route_not_found", "no such endpoint"))
			return
		}
	}
	c.Next()
}

// checkBodyText walks a decoded request and refuses the first string field
// that is not acceptable text, naming it by its JSON path.
func checkBodyText(v any) error {
	if field, why := textProblem(v); why != "" {
		return errBadText(field, why)
	}
	return nil
}

// textProblem is the first string field of v that is not acceptable text,
// by its JSON path, and what is wrong with it; why is "" when none is.
func textProblem(v any) (field, why string) { return walkText(reflect.ValueOf(v), "") }

func walkText(v reflect.Value, path string) (string, string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", ""
		}
		return walkText(v.Elem(), path)
	case reflect.String:
		return path, badText(v.String(), true)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				name = ""
			}
			if field, why := walkText(v.Field(i), join(path, name)); why != "" {
				return field, why
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 { // raw bytes (a JSON document), checked as a whole
			if !utf8.Valid(v.Bytes()) {
				return path, "must be valid UTF-8"
			}
			return "", ""
		}
		for i := range v.Len() {
			if field, why := walkText(v.Index(i), path+"["+strconv.Itoa(i)+"]"); why != "" {
				return field, why
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if k.Kind() == reflect.String {
				if why := badText(k.String(), false); why != "" {
					return join(path, k.String()), why
				}
			}
			if field, why := walkText(v.MapIndex(k), join(path, k.String())); why != "" {
				return field, why
			}
		}
	}
	return "", ""
}

func join(path, name string) string {
	switch {
	case path == "":
		return name
	case name == "":
		return path
	}
	return path + "." + name
}
