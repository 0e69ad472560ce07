package api

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tandem/activities/store"
)

// Invariant 9: every failure that is a dependency being unavailable is 503,
// whatever wraps it; what is not stays what it is.
func TestDependencyFailuresAre503(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("look up API key: %w", err) }
	down := map[string]error{
		"postgres admin shutdown":       wrap(&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}),
		"postgres starting up":          wrap(&pgconn.PgError{Code: "57P03"}),
		"postgres too many clients":     wrap(&pgconn.PgError{Code: "53300"}),
		"postgres connection failure":   wrap(&pgconn.PgError{Code: "08006"}),
		"serialization failure":         wrap(&pgconn.PgError{Code: "40001"}),
		"statement timeout":             wrap(&pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}),
		"lock timeout":                  wrap(&pgconn.PgError{Code: "55P03", Message: "could not obtain lock on row"}),
		"connection refused":            wrap(syscall.ECONNREFUSED),
		"connection reset":              wrap(syscall.ECONNRESET),
		"connection dropped mid-query":  wrap(io.ErrUnexpectedEOF),
		"bad pooled connection":         wrap(driver.ErrBadConn),
		"pool exhausted until deadline": wrap(context.DeadlineExceeded),
		"temporal unavailable":          serviceerror.NewUnavailable("connection refused"),
		"temporal overloaded":           serviceerror.NewResourceExhausted(0, "busy"),
		"temporal deadline":             serviceerror.NewDeadlineExceeded("deadline"),
		"no worker polling":             serviceerror.NewFailedPrecondition("no poller seen for task queue recently, worker may be down"),
		"update-with-start, one op down": serviceerror.NewMultiOperationExecution("failed", []error{
			serviceerror.NewUnavailable("down"), serviceerror.NewMultiOperationAborted("aborted")}),
		"unconverted gRPC status": status.Error(codes.Unavailable, "transport closing"),
	}
	for name, err := range down {
		if got, _ := toAPIError(err); got.Status != http.StatusServiceUnavailable || got.Code != "unavailable" {
			t.Errorf("%s: %d %s, want 503 unavailable", name, got.Status, got.Code)
		}
	}
	notDown := map[string]struct {
		err    error
		status int
	}{
		"unique violation is a bug":   {wrap(&pgconn.PgError{Code: "23505"}), http.StatusInternalServerError},
		"another failed precondition": {serviceerror.NewFailedPrecondition("something else"), http.StatusInternalServerError},
		"not found says what":         {wrap(store.NotFound("refund")), http.StatusNotFound},
		"a plain error is a bug":      {errors.New("nil map"), http.StatusInternalServerError},
		"a client's truncated JSON":   {requestJSONError(io.ErrUnexpectedEOF), http.StatusBadRequest},
		"a client's empty body":       {requestJSONError(io.EOF), http.StatusBadRequest},
	}
	for name, tc := range notDown {
		if got, _ := toAPIError(tc.err); got.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", name, got.Status, got.Code, tc.status)
		}
	}
	if got, _ := toAPIError(wrap(store.NotFound("legal_hold"))); got.Code != "legal_hold_not_found" || got.Message != "no such legal hold" {
		t.Errorf("a missing legal hold: %s %q", got.Code, got.Message)
	}
}
