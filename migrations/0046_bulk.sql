-- +goose Up
-- +goose StatementBegin
-- A bulk action a supervisor asked for, and each case of its selection
-- with where it stands: pending, done, failed (outcome: why) or cancelled.
CREATE TABLE bulk_jobs (
    tenant_id    text NOT NULL REFERENCES tenants(id),
    id           uuid NOT NULL,
    action       text NOT NULL,
    request      jsonb NOT NULL,
    requested_by text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'completed', 'cancelled')),
    total        integer NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE bulk_items (
    tenant_id  text NOT NULL,
    bulk_id    uuid NOT NULL,
    case_id    uuid NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'cancelled')),
    outcome    text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, bulk_id, case_id),
    FOREIGN KEY (tenant_id, bulk_id) REFERENCES bulk_jobs (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX bulk_items_pending ON bulk_items (tenant_id, bulk_id, case_id) WHERE status = 'pending';
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE bulk_items;
DROP TABLE bulk_jobs;
-- +goose StatementEnd
