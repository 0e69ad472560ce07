package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TOTP errors.
var (
	ErrTOTPAlreadyEnrolled = errors.New("a confirmed TOTP factor exists")
	ErrTOTPNotEnrolled     = errors.New("no TOTP factor")
	ErrTOTPInvalid         = errors.New("invalid or already used TOTP code")
)

const totpPeriod = 30 // seconds, as authenticator apps expect

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

type totpFactor struct {
	TenantID       string `gorm:"primaryKey"`
	Subject        string `gorm:"primaryKey"`
	SecretCT       []byte `gorm:"column:secret_ct"`
	MasterKeyID    string
	ConfirmedAt    *time.Time
	LastStep       int64
	CreatedAt      time.Time
	FailedAttempts int
	LockedUntil    *time.Time
	LastFailedAt   *time.Time
}

// Attempts before a factor locks, and the first lock's length; each further
// failure doubles it, up to maxTOTPLock.
const (
	totpFreeAttempts = 4
	firstTOTPLock    = time.Minute
	maxTOTPLock      = time.Hour
)

// TOTPLockedError: too many wrong codes; no code is checked until Until.
type TOTPLockedError struct{ Until time.Time }

func (e *TOTPLockedError) Error() string {
	return "second factor locked until " + e.Until.UTC().Format(time.RFC3339)
}

// TOTPState is what an administrator sees of a person's second factor.
type TOTPState struct {
	Subject        string     `json:"subject"`
	Confirmed      bool       `json:"confirmed"`
	FailedAttempts int        `json:"failed_attempts"` // wrong codes in a row
	LastFailedAt   *time.Time `json:"last_failed_at,omitempty"`
	LockedUntil    *time.Time `json:"locked_until,omitempty"`
}

// TOTPStatus returns a person's second factor's state.
func (s *Store) TOTPStatus(ctx context.Context, tenantID, subject string) (TOTPState, error) {
	var f totpFactor
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND subject = ?", tenantID, subject).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return TOTPState{}, NotFound("totp")
	}
	if err != nil {
		return TOTPState{}, fmt.Errorf("read TOTP factor: %w", err)
	}
	return TOTPState{Subject: subject, Confirmed: f.ConfirmedAt != nil, FailedAttempts: f.FailedAttempts,
		LastFailedAt: f.LastFailedAt, LockedUntil: f.LockedUntil}, nil
}

// ResetWithin says whether an administrator reset the person's factor
// within window, which lets them enrol again without a fresh sign-in.
func (s *Store) ResetWithin(ctx context.Context, tenantID, subject string, window time.Duration) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("totp_resets").Where("tenant_id = ? AND subject = ? AND reset_at > ?",
		tenantID, subject, time.Now().Add(-window)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("read TOTP resets: %w", err)
	}
	return n > 0, nil
}

func totpAAD(tenantID, subject string) string { return "totp:" + tenantID + ":" + subject }

// EnrolTOTP starts (or restarts, while unconfirmed) a person's enrolment and
// returns the otpauth:// URL for their authenticator app, which holds the secret.
func (s *Store) EnrolTOTP(ctx context.Context, tenantID, subject string) (string, error) {
	if s.keys == nil {
		return "", ErrNoKeyring
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Tandem (" + tenantID + ")", AccountName: subject, Period: totpPeriod})
	if err != nil {
		return "", fmt.Errorf("generate TOTP secret: %w", err)
	}
	sealed, mid, err := s.keys.Wrap([]byte(key.Secret()), totpAAD(tenantID, subject))
	if err != nil {
		return "", err
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "subject"}},
		DoUpdates: clause.AssignmentColumns([]string{"secret_ct", "master_key_id", "last_step", "created_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "totp_factors.confirmed_at IS NULL"}}},
	}).Create(&totpFactor{TenantID: tenantID, Subject: subject, SecretCT: sealed, MasterKeyID: mid, CreatedAt: time.Now().UTC()})
	if res.Error != nil {
		return "", fmt.Errorf("store TOTP factor: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return "", ErrTOTPAlreadyEnrolled
	}
	return key.URL(), nil
}

// ConfirmTOTP confirms an enrolment with a first code from the app.
func (s *Store) ConfirmTOTP(ctx context.Context, tenantID, subject, code string, now time.Time) error {
	return s.useTOTP(ctx, tenantID, subject, code, now, false)
}

// VerifyTOTP checks a code of a confirmed factor. Each code works once.
func (s *Store) VerifyTOTP(ctx context.Context, tenantID, subject, code string, now time.Time) error {
	return s.useTOTP(ctx, tenantID, subject, code, now, true)
}

// useTOTP checks a code under a lock on the factor, so concurrent guesses
// are counted one by one.
func (s *Store) useTOTP(ctx context.Context, tenantID, subject, code string, now time.Time, confirmed bool) error {
	if s.keys == nil {
		return ErrNoKeyring
	}
	var failed error // a wrong code: recorded, then returned
	err := s.InTx(ctx, func(tx *Store) error {
		err := tx.checkTOTP(ctx, tenantID, subject, code, now, confirmed)
		var locked *TOTPLockedError
		if errors.Is(err, ErrTOTPInvalid) && !errors.As(err, &locked) {
			failed, err = tx.failTOTP(ctx, tenantID, subject, now), nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return failed
}

// failTOTP counts a wrong code and locks the factor from the fifth in a row.
func (s *Store) failTOTP(ctx context.Context, tenantID, subject string, now time.Time) error {
	var f totpFactor
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND subject = ?", tenantID, subject).Take(&f).Error; err != nil {
		return fmt.Errorf("read TOTP factor: %w", err)
	}
	f.FailedAttempts++
	updates := map[string]any{"failed_attempts": f.FailedAttempts, "last_failed_at": now.UTC()}
	var lockErr error = ErrTOTPInvalid
	if over := f.FailedAttempts - totpFreeAttempts; over > 0 {
		lock := min(firstTOTPLock<<min(over-1, 10), maxTOTPLock)
		until := now.Add(lock).UTC()
		updates["locked_until"] = until
		lockErr = &TOTPLockedError{Until: until}
	}
	if err := s.db.WithContext(ctx).Model(&totpFactor{}).Where("tenant_id = ? AND subject = ?", tenantID, subject).Updates(updates).Error; err != nil {
		return fmt.Errorf("record TOTP failure: %w", err)
	}
	return lockErr
}

func (s *Store) checkTOTP(ctx context.Context, tenantID, subject, code string, now time.Time, confirmed bool) error {
	var f totpFactor
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ? AND subject = ?", tenantID, subject).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (f.ConfirmedAt != nil) != confirmed) {
		if confirmed {
			return ErrTOTPNotEnrolled
		}
		return ErrTOTPAlreadyEnrolled
	}
	if err != nil {
		return fmt.Errorf("read TOTP factor: %w", err)
	}
	if f.LockedUntil != nil && now.Before(*f.LockedUntil) {
		return &TOTPLockedError{Until: *f.LockedUntil}
	}
	secret, err := s.keys.Unwrap(f.MasterKeyID, f.SecretCT, totpAAD(tenantID, subject))
	if err != nil {
		return err
	}
	// Accept the current step and one either side (clock skew), but only a
	// step later than the last one used: a code never works twice.
	step := now.Unix() / totpPeriod
	matched := int64(0)
	for _, st := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(st*totpPeriod, 0), totpOpts)
		if err != nil {
			return fmt.Errorf("TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = st
		}
	}
	if matched == 0 {
		return ErrTOTPInvalid
	}
	updates := map[string]any{"last_step": matched, "failed_attempts": 0, "locked_until": nil}
	if !confirmed {
		updates["confirmed_at"] = now.UTC()
	}
	res := s.db.WithContext(ctx).Model(&totpFactor{}).
		Where("tenant_id = ? AND subject = ? AND last_step < ?", tenantID, subject, matched).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("record TOTP use: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrTOTPInvalid
	}
	return nil
}

// ResetTOTP removes a person's factor, so they can enrol a new one; it
// reports false if they had none.
func (s *Store) ResetTOTP(ctx context.Context, tenantID, subject string) (bool, error) {
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND subject = ?", tenantID, subject).Delete(&totpFactor{})
	if res.Error != nil {
		return false, fmt.Errorf("reset TOTP factor: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	err := s.db.WithContext(ctx).Exec(`INSERT INTO totp_resets (tenant_id, subject, reset_at) VALUES (?, ?, now())
		ON CONFLICT (tenant_id, subject) DO UPDATE SET reset_at = excluded.reset_at`, tenantID, subject).Error
	if err != nil {
		return false, fmt.Errorf("record TOTP reset: %w", err)
	}
	return true, nil
}
