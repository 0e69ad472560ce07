package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"tandem/activities/store"
)

// TOTPCodeRequest carries a code from the person's authenticator app.
type TOTPCodeRequest struct {
	Code string `json:"code"`
}

// StepUpToken is the answer to a successful step-up.
type StepUpToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) totpError(err error) error {
	switch {
	case errors.Is(err, store.ErrTOTPAlreadyEnrolled):
		return errorf(http.StatusConflict, "totp_already_enrolled", "a confirmed second factor exists; ask an administrator to reset it")
	case errors.Is(err, store.ErrTOTPNotEnrolled):
		return errorf(http.StatusConflict, "totp_not_enrolled", "enrol a second factor at POST /v1/auth/totp/enrol first")
	case errors.Is(err, store.ErrTOTPInvalid):
		return errorf(http.StatusUnauthorized, "totp_invalid", "the code is wrong, expired or already used")
	}
	return err
}

func readCode(c *gin.Context) (string, error) {
	var req TOTPCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return "", err
	}
	if len(req.Code) != 6 {
		return "", validationError([]FieldError{{"code", "must be the 6 digits the app shows"}})
	}
	return req.Code, nil
}

// enrolTOTP starts a person's TOTP enrolment; the answer holds the secret,
// as an otpauth:// URL for an authenticator app, once.
func (s *Server) enrolTOTP(c *gin.Context) {
	p := principalOf(c)
	url, err := s.store.EnrolTOTP(c.Request.Context(), p.Tenant, p.ID)
	if err == nil {
		err = s.audit(c, "auth.totp.enrol", "user", p.ID, "", "allow", "success", "", nil)
	}
	if err != nil {
		respondError(c, s.log, s.totpError(err))
		return
	}
	c.PureJSON(http.StatusCreated, gin.H{"otpauth_url": url}) // keep the URL's & as is
}

func (s *Server) confirmTOTP(c *gin.Context) {
	p := principalOf(c)
	code, err := readCode(c)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	err = s.store.ConfirmTOTP(c.Request.Context(), p.Tenant, p.ID, code, time.Now())
	outcome := "success"
	if err != nil {
		outcome = "failed"
	}
	if aerr := s.audit(c, "auth.totp.confirm", "user", p.ID, "", "allow", outcome, "", nil); aerr != nil {
		respondError(c, s.log, aerr)
		return
	}
	if err != nil {
		respondError(c, s.log, s.totpError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"confirmed": true})
}

// stepUp checks a TOTP code and mints a short-lived token that carries the
// same identity plus acr "totp", which sensitive routes require.
func (s *Server) stepUp(c *gin.Context) {
	p := principalOf(c)
	code, err := readCode(c)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	if len(s.tokens.Secret) == 0 {
		respondError(c, s.log, errorf(http.StatusServiceUnavailable, "step_up_unavailable", "this server cannot mint step-up tokens"))
		return
	}
	err = s.store.VerifyTOTP(c.Request.Context(), p.Tenant, p.ID, code, time.Now())
	outcome := "success"
	if err != nil {
		outcome = "failed"
	}
	if aerr := s.audit(c, "auth.step_up", "user", p.ID, "", "allow", outcome, "", nil); aerr != nil {
		respondError(c, s.log, aerr)
		return
	}
	if err != nil {
		respondError(c, s.log, s.totpError(err))
		return
	}
	now := time.Now()
	exp := now.Add(StepUpTTL)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt // never outlive the session it came from
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		Tenant: p.Tenant, Roles: p.Roles, ACR: acrTOTP,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.tokens.Issuer, Subject: p.ID, Audience: jwt.ClaimStrings{s.tokens.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}).SignedString(s.tokens.Secret)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, StepUpToken{Token: tok, ExpiresAt: exp.UTC()})
}

// resetTOTP removes another person's lost second factor. Never one's own:
// a second factor that its holder alone can replace protects nothing.
func (s *Server) resetTOTP(c *gin.Context) {
	p := principalOf(c)
	subject := c.Param("subject")
	if subject == p.ID {
		respondError(c, s.log, errorf(http.StatusForbidden, "self_reset", "another administrator must reset your second factor"))
		return
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
		respondError(c, s.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}
