-- +goose Up
-- +goose StatementBegin
-- Audit entries wait here, queued by the transaction that records what
-- they describe (which locks nothing tenant-wide), until a sequencer
-- (store.SequenceAudit) gives them positions in their tenant's chain, a
-- batch at a time, and deletes them. Readers see an entry once it is in
-- audit_events.
CREATE TABLE audit_queue (
    qseq        bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id),
    id          text NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    case_id     text NOT NULL DEFAULT '',
    decision    text NOT NULL CHECK (decision IN ('allow', 'deny')),
    outcome     text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    details     text NOT NULL DEFAULT '{}',
    queued_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_queue_by_tenant ON audit_queue (tenant_id, qseq);
CREATE INDEX audit_queue_by_id ON audit_queue (id);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE audit_queue;
-- +goose StatementEnd
