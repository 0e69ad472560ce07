-- +goose Up
-- +goose StatementBegin
-- TOTP second factors of people, for step-up before sensitive actions. The
-- secret is sealed with the master key; last_step makes each code single-use.
CREATE TABLE totp_factors (
    tenant_id     text NOT NULL REFERENCES tenants(id),
    subject       text NOT NULL,
    secret_ct     bytea NOT NULL,
    master_key_id text NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE totp_factors;
-- +goose StatementEnd
