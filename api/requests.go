package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Pages of a conversation or a trail.
const (
	defaultMessagePage = 100
	maxMessagePage     = 500
)

// messagePage reads ?after=<seq> (default 0: from the start) and ?limit=
// (default 100, at most 500) of a page of messages or trail entries.
func messagePage(c *gin.Context) (int64, int, error) {
	var errs []FieldError
	var after int64
	if raw := c.Query("after"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, FieldError{"after", "must be a sequence number from a previous page's next_after"})
		}
		after = n
	}
	limit, limitErr := pageLimit(c, defaultMessagePage, maxMessagePage)
	if limitErr != nil {
		errs = append(errs, *limitErr)
	}
	if len(errs) > 0 {
		return 0, 0, validationError(errs)
	}
	return after, limit, nil
}

// pageLimit reads ?limit= for a list: def without it, from 1 to max with it.
func pageLimit(c *gin.Context, def, max int) (int, *FieldError) {
	raw := c.Query("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, &FieldError{"limit", "must be a whole number from 1 to " + strconv.Itoa(max)}
	}
	return n, nil
}

// decodeJSON reads exactly one JSON object with only known fields.
func decodeJSON(c *gin.Context, dst any) error {
	// Only JSON: a page elsewhere can send a form without asking, but not
	// JSON (that needs a CORS preflight), so no form can sign a person in
	// or act for them.
	if !strings.EqualFold(c.ContentType(), "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return requestBodyError(err)
	}
	// The decoder would quietly replace bytes that are not UTF-8.
	if !utf8.Valid(raw) {
		return errBadText("body", "must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Message: "unknown field",
				Fields: []FieldError{{Field: strings.Trim(field, `"`), Message: "is not a field of this request"}}}
		}
		return requestJSONError(err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed_json", "the request body must hold one JSON object")
	}
	return checkBodyText(dst)
}

// requestBodyError is what reading a request's body failed with: too large
// (413), or the client's connection (a dependency of sorts: 503, retried).
func requestBodyError(err error) error {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return err
	}
	return fmt.Errorf("read the request body: %w", err)
}

func idempotencyKey(c *gin.Context) (string, error) {
	key := c.GetHeader(idempotencyHeader)
	if len(key) > maxIdempotencyKey {
		return "", validationError([]FieldError{{idempotencyHeader, "must be at most 255 characters"}})
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return "", validationError([]FieldError{{idempotencyHeader, "must be printable ASCII without spaces"}})
		}
	}
	return key, nil
}

func validationError(fields []FieldError) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed",
		Message: "the request is invalid", Fields: fields}
}

// pgTime rounds a workflow time to what PostgreSQL stores, so that a case
// reads the same from an update's result and from GET.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := pgTime(*t)
	return &u
}
