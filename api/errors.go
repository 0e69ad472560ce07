package api

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tandem/activities/objects"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/workflows"
)

// Error is an error with the HTTP status, machine-readable code and human
// message a client sees. Handlers return it for conditions they recognise;
// respondError maps everything else.
type Error struct {
	Status     int          `json:"-"`
	RetryAfter int          `json:"-"` // seconds, sent as Retry-After (503s send retryAfterSeconds)
	Code       string       `json:"code"`
	Message    string       `json:"message"`
	Fields     []FieldError `json:"fields,omitempty"`
	CaseID     string       `json:"case_id,omitempty"` // case_merged: the case to follow
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// Errors the API raises itself.
var (
	errCaseNotFound = errorf(http.StatusNotFound, "case_not_found", "no such case")
	errCaseClosed   = errorf(http.StatusConflict, "case_closed", "the case is closed")
	// errCustomerErased: nothing more is written for an erased customer.
	errCustomerErased = errorf(http.StatusConflict, "customer_erased", "this customer's personal data was erased at their request; nothing more is recorded for them")
	errKeyReused      = errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
		"this Idempotency-Key was already used with a different request")
	errKeyExpired = errorf(http.StatusConflict, "idempotency_key_expired",
		"this Idempotency-Key was first used more than 24 hours ago; a request sent with it then is not taken again: send a new key if this is a new request")
	errStepUpRequired = errorf(http.StatusUnauthorized, "step_up_required",
		"this action needs a recent second factor: POST a TOTP code to /v1/auth/step-up and use the token it returns")
	errFourEyes      = errorf(http.StatusForbidden, "four_eyes", "the person who requested or appealed a refund, or made the API key it was requested with, may not decide it")
	errNotDecision   = errorf(http.StatusConflict, "not_awaiting_decision", "the refund is not waiting for a decision")
	errNotAppealable = errorf(http.StatusConflict, "not_appealable",
		"only a rejection by a policy rule can be appealed, once, within the appeal window; a request refused for a fact of the order (no such order, over the refundable amount, …) cannot")
	errUnavailable = errorf(http.StatusServiceUnavailable, "unavailable",
		"a dependency is unavailable or slow; retry later (with the same Idempotency-Key, if you sent one)")
	errInternal = errorf(http.StatusInternalServerError, "internal", "internal error; it has been logged")
	// errProviderUnavailable: the payment provider did not answer a question
	// about a payment (it may be down); ask again later.
	errProviderUnavailable = errorf(http.StatusServiceUnavailable, "provider_unavailable",
		"the payment provider did not answer; retry later")
)

// storeErrors are the store's errors a client can cause, and what they see.
var storeErrors = []struct {
	err error
	api *Error
}{
	{store.ErrIdempotencyMismatch, errKeyReused},
	{store.ErrCustomerErased, errCustomerErased},
	{store.ErrBadCursor, errorf(http.StatusBadRequest, "invalid_cursor", "the cursor is not one this API issued")},
	{store.ErrArticleExists, errorf(http.StatusConflict, "article_exists", "an article for this intent and locale exists; change it with PUT")},
	{store.ErrNotRatable, errorf(http.StatusConflict, "not_ratable", "a case can be rated once it is resolved")},
	{store.ErrSurveyClosed, errorf(http.StatusConflict, "survey_closed", "the time to rate this case has passed")},
	{store.ErrAlreadyRated, errorf(http.StatusConflict, "already_rated", "the case is rated already")},
	{store.ErrTOTPAlreadyEnrolled, errorf(http.StatusConflict, "totp_already_enrolled", "a confirmed second factor exists; ask an administrator to reset it")},
	{store.ErrTOTPNotEnrolled, errorf(http.StatusConflict, "totp_not_enrolled", "enrol a second factor at POST /v1/auth/totp/enrol first")},
	{store.ErrTOTPInvalid, errorf(http.StatusUnauthorized, "totp_invalid", "the code is wrong, expired or already used")},
}

// workflowErrors are the workflows' application error types, and what the
// client sees (msg is the workflow's own message).
var workflowErrors = map[string]func(msg string) *Error{
	workflows.ErrTypeCaseClosed:          func(string) *Error { return errCaseClosed },
	workflows.ErrTypeCaseFull:            func(msg string) *Error { return errorf(http.StatusConflict, "case_full", msg) },
	workflows.ErrTypeFieldsRequired:      func(msg string) *Error { return errorf(http.StatusUnprocessableEntity, "fields_required", msg) },
	workflows.ErrTypeNotClaimable:        func(msg string) *Error { return errorf(http.StatusConflict, "not_claimable", msg) },
	workflows.ErrTypeWrongState:          func(msg string) *Error { return errorf(http.StatusConflict, "wrong_state", msg) },
	workflows.ErrTypeNotAwaitingDecision: func(string) *Error { return errNotDecision },
	workflows.ErrTypeFourEyes:            func(string) *Error { return errFourEyes },
	workflows.ErrTypeNotAppealable:       func(string) *Error { return errNotAppealable },
	workflows.ErrTypeNotAnAnswer: func(string) *Error {
		return errorf(http.StatusUnprocessableEntity, "not_an_answer", "feedback is for the AI's recent answers in this case")
	},
	workflows.ErrTypeInvalidMessage: func(msg string) *Error {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: "the request is invalid",
			Fields: []FieldError{{Field: "body", Message: msg}}}
	},
}

// requestJSONError maps an error decoding the request body to what the
// client sees. Only the decoder's errors are the client's: an EOF from
// anywhere else is a dependency's connection dropping.
func requestJSONError(err error) error {
	var maxBytes *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxBytes):
		return err
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON")
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "malformed_json", "the request body is empty")
	case errors.As(err, &typeErr):
		return &Error{Status: http.StatusBadRequest, Code: "malformed_json",
			Message: "a field has the wrong type",
			Fields:  []FieldError{{Field: typeErr.Field, Message: "must be a " + typeErr.Type.String()}}}
	}
	return errorf(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON")
}

// toAPIError maps every error a handler returns to what the client sees: the
// API's own, a dependency down (503), a record not found (404, saying
// which), the store's and the workflows' errors by the tables above.
// Anything else is a bug: 500 with a plain message; the caller logs it.
func toAPIError(err error) (apiErr *Error, known bool) {
	var e *Error
	var notFound *store.NotFoundError
	var maxBytes *http.MaxBytesError
	var appErr *temporal.ApplicationError
	var locked *store.TOTPLockedError
	var provider *payments.ProviderError
	switch {
	case errors.As(err, &e):
		return e, true
	case dependencyDown(err):
		return errUnavailable, true
	case errors.As(err, &provider):
		return errProviderUnavailable, true
	case errors.As(err, &notFound):
		return errorf(http.StatusNotFound, notFound.What+"_not_found", "no such "+strings.ReplaceAll(notFound.What, "_", " ")), true
	case errors.As(err, &maxBytes):
		return errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large"), true
	case errors.As(err, &locked):
		return &Error{Status: http.StatusTooManyRequests, Code: "totp_locked", RetryAfter: max(1, int(math.Ceil(time.Until(locked.Until).Seconds()))),
			Message: "too many wrong codes: the second factor is locked until " + locked.Until.UTC().Format(time.RFC3339)}, true
	case errors.As(err, &appErr) && workflowErrors[appErr.Type()] != nil:
		return workflowErrors[appErr.Type()](appErr.Message()), true
	}
	for _, m := range storeErrors {
		if errors.Is(err, m.err) {
			return m.api, true
		}
	}
	return errInternal, false
}

// dependencyDown says err is PostgreSQL, Temporal or the object store being unavailable, slow
// or overloaded, not a bug (invariant 9): the client should retry.
func dependencyDown(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var exhausted *serviceerror.ResourceExhausted
	var aborted *serviceerror.Aborted
	var notReady *serviceerror.WorkflowNotReady
	var precondition *serviceerror.FailedPrecondition
	var multi *serviceerror.MultiOperationExecution
	var pgErr *pgconn.PgError
	var pgConnect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.As(err, &exhausted),
		errors.As(err, &aborted), errors.As(err, &notReady), errors.Is(err, objects.ErrUnavailable):
		return true
	case errors.As(err, &precondition):
		// Matching says so when no worker has polled the task queue lately
		// (the workers are down or restarting).
		return strings.Contains(precondition.Message, "no poller seen")
	case errors.As(err, &multi):
		for _, op := range multi.OperationErrors() {
			if dependencyDown(op) {
				return true
			}
		}
		return false
	case errors.As(err, &pgErr):
		// 08: connection exception; 53: insufficient resources (too many
		// connections, out of memory or disk); 57P01-57P03: the server is
		// shutting down, crashed or starting; 40001/40P01: serialization
		// failure or deadlock, which a retry resolves; 57014: a statement
		// cancelled by its timeout (the server is too slow); 55P03: a lock
		// not had within lock_timeout.
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		return class == "08" || class == "53" || slices.Contains(retryablePgCodes, pgErr.Code)
	case errors.As(err, &pgConnect), pgconn.Timeout(err), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	switch status.Code(err) { // a gRPC status the SDK did not convert
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	// pgx reports a connection lost mid-query without a type of its own.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to receive message")
}

// retryablePgCodes are the SQLSTATEs, outside classes 08 and 53, that a
// retry a moment later resolves.
var retryablePgCodes = []string{"57P01", "57P02", "57P03", "40001", "40P01", "57014", "55P03"}

// retryAfterSeconds is what a 503 asks clients to wait: PostgreSQL and the
// Temporal server come back from a restart in seconds.
const retryAfterSeconds = 2

// respondError writes err as the JSON error body and logs what the client
// does not see.
func respondError(c *gin.Context, log *slog.Logger, err error) {
	apiErr, known := toAPIError(err)
	switch {
	case !known:
		log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "err", err)
	case apiErr.Status >= 500:
		log.WarnContext(c.Request.Context(), "dependency failure", "route", c.FullPath(), "err", err)
	}
	switch {
	case apiErr.RetryAfter > 0:
		c.Header("Retry-After", strconv.Itoa(apiErr.RetryAfter))
	case apiErr.Status == http.StatusServiceUnavailable:
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	c.AbortWithStatusJSON(apiErr.Status, gin.H{"error": apiErr})
}
