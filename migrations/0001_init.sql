-- +goose Up
-- +goose StatementBegin
-- Tenants own every other row; their id is part of each case's workflow ID.
CREATE TABLE tenants (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Projection of each case workflow, written only by its activities. last_seq is
-- the workflow's own event sequence: a write carrying an older sequence is a
-- retry or a reordering and must not win.
CREATE TABLE cases (
    tenant_id    text NOT NULL REFERENCES tenants(id),
    id           uuid NOT NULL,
    workflow_id  text NOT NULL UNIQUE,
    customer_ref text NOT NULL,
    channel      text NOT NULL,
    subject      text NOT NULL,
    priority     text NOT NULL,
    status       text NOT NULL,
    last_seq     bigint NOT NULL,
    opened_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    closed_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cases_list ON cases (tenant_id, opened_at DESC, id DESC);
CREATE INDEX cases_by_status ON cases (tenant_id, status, opened_at DESC, id DESC);

-- One row per conversation turn. (tenant_id, case_id, seq) makes a retried
-- activity a no-op instead of a duplicate.
CREATE TABLE messages (
    tenant_id   text NOT NULL,
    case_id     uuid NOT NULL,
    seq         bigint NOT NULL,
    author_kind text NOT NULL CHECK (author_kind IN ('customer', 'ai', 'agent', 'system')),
    author_id   text NOT NULL DEFAULT '',
    body        text NOT NULL,
    placeholder boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, case_id, seq),
    FOREIGN KEY (tenant_id, case_id) REFERENCES cases(tenant_id, id)
);

-- Idempotency keys of case-opening requests: the same key with the same
-- request returns the same case; with a different request it is refused.
CREATE TABLE idempotency_keys (
    tenant_id    text NOT NULL REFERENCES tenants(id),
    key          text NOT NULL,
    request_hash text NOT NULL,
    case_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE idempotency_keys;
DROP TABLE messages;
DROP TABLE cases;
DROP TABLE tenants;
-- +goose StatementEnd
