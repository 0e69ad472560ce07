-- +goose Up
-- +goose StatementBegin
-- A tenant's custom fields: their type, whether a case must have one before
-- it is resolved, an enum's options, and the roles that may set them (none
-- listed: every role that may work the case).
CREATE TABLE case_fields (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    type       text NOT NULL CHECK (type IN ('text', 'number', 'enum', 'date', 'boolean')),
    required   boolean NOT NULL DEFAULT false,
    options    jsonb NOT NULL DEFAULT '[]',
    roles      jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A case's tags and the values of its fields: text values, which may say
-- something about a person, sealed under the customer's data key in
-- fields_ct; the others in clear, to filter by.
ALTER TABLE cases
    ADD COLUMN tags      jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN fields    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN fields_ct bytea;
CREATE INDEX cases_tags ON cases USING gin (tags);
CREATE INDEX cases_fields ON cases USING gin (fields);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX cases_fields;
DROP INDEX cases_tags;
ALTER TABLE cases DROP COLUMN tags, DROP COLUMN fields, DROP COLUMN fields_ct;
DROP TABLE case_fields;
-- +goose StatementEnd
