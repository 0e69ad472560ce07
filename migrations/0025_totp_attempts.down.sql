DROP TABLE totp_resets;
ALTER TABLE totp_factors DROP COLUMN last_failed_at, DROP COLUMN locked_until, DROP COLUMN failed_attempts;
