-- +goose Up
-- +goose StatementBegin
-- Revoked tokens of people: one by its jti, or every token of a subject
-- issued before a time (a stolen session, a person who left).
CREATE TABLE revoked_tokens (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    jti        text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    revoked_by text NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE TABLE revoked_subjects (
    tenant_id      text NOT NULL REFERENCES tenants(id),
    subject        text NOT NULL,
    revoked_before timestamptz NOT NULL,
    revoked_by     text NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE revoked_subjects;
DROP TABLE revoked_tokens;
-- +goose StatementEnd
