-- +goose Up
-- +goose StatementBegin
-- The audit trail: one hash chain per tenant. Each entry's hash covers the
-- previous entry's hash and the canonical encoding of the entry (see
-- store.AuditEvent.canonical), so an altered, removed, inserted or reordered
-- entry breaks the chain at that point. id makes appends idempotent.
CREATE TABLE audit_events (
    tenant_id   text NOT NULL REFERENCES tenants(id),
    seq         bigint NOT NULL CHECK (seq > 0),
    id          text NOT NULL UNIQUE,
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
    details     text NOT NULL DEFAULT '{}', -- exact JSON bytes that were hashed
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_by_case ON audit_events (tenant_id, case_id, seq) WHERE case_id <> '';
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, seq);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, occurred_at);

-- The newest entry of each chain. Appends lock it, which orders them; verify
-- compares it with the chain's end, so removing the newest entries shows.
CREATE TABLE audit_heads (
    tenant_id text PRIMARY KEY REFERENCES tenants(id),
    seq       bigint NOT NULL,
    hash      bytea NOT NULL
);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE audit_heads;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
-- +goose StatementEnd
