-- +goose Up
-- +goose StatementBegin
-- Failed TOTP codes are counted per person: from the fifth in a row the
-- factor is locked, for a minute, then twice as long at each further
-- failure (at most an hour). An administrator's reset lets the person enrol
-- again without a fresh sign-in, for a day.
ALTER TABLE totp_factors
    ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until    timestamptz,
    ADD COLUMN last_failed_at  timestamptz;
CREATE TABLE totp_resets (
    tenant_id text NOT NULL REFERENCES tenants(id),
    subject   text NOT NULL,
    reset_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE totp_resets;
ALTER TABLE totp_factors DROP COLUMN last_failed_at, DROP COLUMN locked_until, DROP COLUMN failed_attempts;
-- +goose StatementEnd
