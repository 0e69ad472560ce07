-- +goose Up
-- +goose StatementBegin
-- Signed webhooks. A tenant's endpoints; the events the case and refund
-- workflows' transitions make (written with the projection, in its
-- transaction, under the audit entry's ID, so a retried write is the same
-- event); and one delivery per (endpoint, event), which the endpoint's
-- delivery workflow works through in order per case.
CREATE TABLE webhook_endpoints (
    tenant_id      text NOT NULL REFERENCES tenants(id),
    id             text NOT NULL,
    url            text NOT NULL,
    event_types    text NOT NULL,         -- comma-separated
    secret         bytea NOT NULL,       -- sealed by the master key
    prev_secret    bytea,                -- the one before a rotation, valid until prev_until
    prev_until     timestamptz,
    master_key_id  text NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    disable_after  integer NOT NULL DEFAULT 50 CHECK (disable_after BETWEEN 1 AND 10000),
    failures       integer NOT NULL DEFAULT 0, -- consecutive failed attempts
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_events (
    tenant_id   text NOT NULL REFERENCES tenants(id),
    id          text NOT NULL,               -- the audit entry's ID: the same transition, the same event
    seq         bigserial,
    case_id     uuid,
    type        text NOT NULL,
    payload     bytea NOT NULL,              -- JSON; sealed under the customer's data key when key_id is set
    key_id      text REFERENCES data_keys(id),
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       text NOT NULL,
    endpoint_id     text NOT NULL,
    event_id        text NOT NULL,
    event_seq       bigint NOT NULL,
    case_id         uuid,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    PRIMARY KEY (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, endpoint_id, event_seq) WHERE status = 'pending';

-- Whether a tenant's endpoints may be on loopback or private networks (the
-- development tenant's receivers run on the same machine).
ALTER TABLE tenants ADD COLUMN webhooks_allow_private boolean NOT NULL DEFAULT false;

-- A notification to the tenant's admins about the tenant, not a case (an
-- endpoint disabled after failing).
ALTER TABLE notifications ALTER COLUMN case_id DROP NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DELETE FROM notifications WHERE case_id IS NULL;
ALTER TABLE notifications ALTER COLUMN case_id SET NOT NULL;
ALTER TABLE tenants DROP COLUMN webhooks_allow_private;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
-- +goose StatementEnd
