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
	TenantID    string `gorm:"primaryKey"`
	Subject     string `gorm:"primaryKey"`
	SecretCT    []byte `gorm:"column:secret_ct"`
	MasterKeyID string
	ConfirmedAt *time.Time
	LastStep    int64
	CreatedAt   time.Time
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
	sealed, mid, err := s.keys.wrap([]byte(key.Secret()), totpAAD(tenantID, subject))
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

func (s *Store) useTOTP(ctx context.Context, tenantID, subject, code string, now time.Time, confirmed bool) error {
	if s.keys == nil {
		return ErrNoKeyring
	}
	var f totpFactor
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND subject = ?", tenantID, subject).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (f.ConfirmedAt != nil) != confirmed) {
		if confirmed {
			return ErrTOTPNotEnrolled
		}
		return ErrTOTPAlreadyEnrolled
	}
	if err != nil {
		return fmt.Errorf("read TOTP factor: %w", err)
	}
	secret, err := s.keys.unwrap(f.MasterKeyID, f.SecretCT, totpAAD(tenantID, subject))
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
	updates := map[string]any{"last_step": matched}
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
	return res.RowsAffected == 1, nil
}
