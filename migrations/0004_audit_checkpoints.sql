-- +goose Up
-- +goose StatementBegin
-- Signed checkpoints of the audit chains. A checkpoint signs a chain's head
-- (tenant, position, hash) with an Ed25519 key kept outside the database, so a
-- chain rewritten and re-hashed from some point on no longer matches the
-- checkpoints after that point.
CREATE TABLE audit_checkpoints (
    tenant_id text NOT NULL REFERENCES tenants(id),
    seq       bigint NOT NULL,
    hash      bytea NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id    text NOT NULL,
    signature bytea NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE audit_checkpoints;
-- +goose StatementEnd
