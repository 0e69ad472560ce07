-- +goose Up
-- +goose StatementBegin
-- Macros: a named reply template per language with variables, and what it
-- does to the case (tags, fields, then reply, ask or resolve). A tenant's
-- (owner NULL, admins keep them) or one agent's own. uses counts the cases
-- it was applied to.
CREATE TABLE macros (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    id         uuid NOT NULL,
    owner      text,
    name       text NOT NULL,
    replies    jsonb NOT NULL DEFAULT '{}',
    actions    jsonb NOT NULL DEFAULT '{}',
    uses       bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX macros_by_name ON macros (tenant_id, coalesce(owner, ''), name);

-- Each application counted once: a retried request carries the update ID
-- of the first.
CREATE TABLE macro_uses (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    case_id    uuid NOT NULL,
    update_id  text NOT NULL,
    macro_id   uuid NOT NULL,
    used_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, case_id, update_id)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE macro_uses;
DROP TABLE macros;
-- +goose StatementEnd
