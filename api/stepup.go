package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"tandem/activities/store"
)

// TOTPCodeRequest carries a code from the person's authenticator app.
type TOTPCodeRequest struct {
	Code string `json:"code"`
}

// StepUpRequest asks for a step-up token: a code, and the action classes
// (StepUpClasses) it is for.
type StepUpRequest struct {
	Code string   `json:"code"`
	For  []string `json:"for"`
}

// StepUpToken is the answer to a successful step-up.
type StepUpToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

var badCode = FieldError{"code", "must be the 6 digits the app shows"}

func readCode(c *gin.Context) (string, error) {
	var req TOTPCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return "", err
	}
	if len(req.Code) != 6 {
		return "", validationError([]FieldError{badCode})
	}
	return req.Code, nil
}

// enrolTOTP starts a person's TOTP enrolment; the answer holds the secret,
// as an otpauth:// URL for an authenticator app, once.
// Only a fresh sign-in (FreshSignIn), or an administrator's reset in the last
// day, may enrol one: whoever holds an older token may not.
func (s *Server) enrolTOTP(c *gin.Context) error {
	p := principalOf(c)
	if p.IssuedAt.IsZero() || time.Since(p.IssuedAt) > FreshSignIn {
		reset, err := s.store.ResetWithin(c.Request.Context(), p.Tenant, p.ID, 24*time.Hour)
		if err != nil {
			return err
		}
		if !reset {
			return s.refused(c, "auth.totp.enrol", "stale_sign_in", errorf(http.StatusUnauthorized, "fresh_sign_in_required",
				"enrolling a second factor needs a sign-in within the last 10 minutes, or an administrator's reset"))
		}
	}
	url, err := s.store.EnrolTOTP(c.Request.Context(), p.Tenant, p.ID)
	if err == nil {
		err = s.audit(c, auditEntry{Action: "auth.totp.enrol", ObjectType: "user", ObjectID: p.ID})
	}
	if err != nil {
		return err
	}
	c.PureJSON(http.StatusCreated, gin.H{"otpauth_url": url}) // keep the URL's & as is
	return nil
}

func (s *Server) confirmTOTP(c *gin.Context) error {
	p := principalOf(c)
	code, err := readCode(c)
	if err != nil {
		return err
	}
	err = s.store.ConfirmTOTP(c.Request.Context(), p.Tenant, p.ID, code, time.Now())
	outcome := totpOutcome(err)
	if aerr := s.audit(c, auditEntry{Action: "auth.totp.confirm", ObjectType: "user", ObjectID: p.ID, Outcome: outcome}); aerr != nil {
		return aerr
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"confirmed": true})
	return nil
}

// stepUp checks a TOTP code and mints a short-lived token that carries the
// same identity plus acr "totp", which sensitive routes require.
func (s *Server) stepUp(c *gin.Context) error {
	p := principalOf(c)
	var req StepUpRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var errs []FieldError
	if len(req.Code) != 6 {
		errs = append(errs, badCode)
	}
	if len(req.For) == 0 || len(req.For) > len(StepUpClasses) {
		errs = append(errs, FieldError{"for", "the action classes the step-up is for, of " + strings.Join(StepUpClasses, ", ")})
	}
	for _, class := range req.For {
		if !slices.Contains(StepUpClasses, class) {
			errs = append(errs, FieldError{"for", "unknown class; classes are " + strings.Join(StepUpClasses, ", ")})
			break
		}
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	code := req.Code
	if len(s.tokens.Secret) == 0 {
		return errorf(http.StatusServiceUnavailable, "step_up_unavailable", "this server cannot mint step-up tokens")
	}
	err := s.store.VerifyTOTP(c.Request.Context(), p.Tenant, p.ID, code, time.Now())
	outcome := totpOutcome(err)
	if aerr := s.audit(c, auditEntry{Action: "auth.step_up", ObjectType: "user", ObjectID: p.ID, Outcome: outcome,
		Details: map[string]string{"for": strings.Join(req.For, ",")}}); aerr != nil {
		return aerr
	}
	if err != nil {
		return err
	}
	now := time.Now()
	exp := now.Add(StepUpTTL)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt // never outlive the session it came from
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		Tenant: p.Tenant, Roles: p.Roles, ACR: acrTOTP, StepUpFor: req.For,
		RegisteredClaims: jwt.RegisteredClaims{
			ID: uuid.NewString(), Issuer: stepUpIssuer, Subject: p.ID, Audience: jwt.ClaimStrings{s.tokens.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}).SignedString(s.tokens.Secret)
	if err != nil {
		return err
	}
	if p.Session {
		// A console session keeps the proof where page scripts cannot read it.
		setCookie(c, stepUpCookie, tok, time.Until(exp), http.SameSiteStrictMode)
		tok = ""
	}
	c.JSON(http.StatusOK, StepUpToken{Token: tok, ExpiresAt: exp.UTC()})
	return nil
}

// totpOutcome is how an attempt with a code is audited.
func totpOutcome(err error) string {
	var locked *store.TOTPLockedError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &locked):
		return "locked"
	}
	return "failed"
}

// totpStatus shows an administrator a person's second factor: confirmed,
// wrong codes in a row, locked until when.
func (s *Server) totpStatus(c *gin.Context) error {
	st, err := s.store.TOTPStatus(c.Request.Context(), principalOf(c).Tenant, c.Param("subject"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"totp": st})
	return nil
}

// resetTOTP removes another person's lost second factor. Never one's own:
// a second factor that its holder alone can replace protects nothing.
func (s *Server) resetTOTP(c *gin.Context) error {
	p := principalOf(c)
	subject := c.Param("subject")
	if subject == p.ID {
		return errorf(http.StatusForbidden, "self_reset", "another administrator must reset your second factor")
	}
	var found bool
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if found, err = tx.ResetTOTP(c.Request.Context(), p.Tenant, subject); err != nil || !found {
			return err
		}
		return s.auditTx(c, tx, "auth.totp.reset", "user", subject, nil)
	})
	if err == nil && !found {
		err = errorf(http.StatusNotFound, "totp_not_found", "this person has no second factor")
	}
	if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
