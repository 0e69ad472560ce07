-- +goose Up
-- +goose StatementBegin
-- A tenant's service policy: an embedded profile, or its own document. Each
-- change raises version; cases record the version they pinned when they opened.
CREATE TABLE tenant_service_policies (
    tenant_id  text PRIMARY KEY REFERENCES tenants(id),
    document   text NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
ALTER TABLE cases ADD COLUMN policy_profile text, ADD COLUMN policy_version bigint;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE cases DROP COLUMN policy_version, DROP COLUMN policy_profile;
DROP TABLE tenant_service_policies;
-- +goose StatementEnd
