-- +goose Up
-- +goose StatementBegin
-- The audit trail as a transparency log. Per tenant, a Merkle tree whose
-- leaf i is the hash of chain entry i+1 (RFC 6962 hashing), stored as
-- golang.org/x/mod/sumdb/tlog lays out its hashes: about two per entry,
-- appended as entries are integrated, never changed.
CREATE TABLE audit_tree_hashes (
    tenant_id text NOT NULL REFERENCES tenants(id),
    idx       bigint NOT NULL CHECK (idx >= 0),
    hash      bytea NOT NULL,
    PRIMARY KEY (tenant_id, idx)
);
CREATE TRIGGER audit_tree_hashes_no_update_delete BEFORE UPDATE OR DELETE ON audit_tree_hashes
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_tree_hashes_no_truncate BEFORE TRUNCATE ON audit_tree_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- How many of the chain's entries the tree holds, and its root. The
-- integrator (store.IntegrateAudit) locks this row, not audit_heads, so
-- integrating never holds up a write.
CREATE TABLE audit_trees (
    tenant_id text PRIMARY KEY REFERENCES tenants(id),
    size      bigint NOT NULL CHECK (size >= 0),
    root      bytea NOT NULL
);

-- A checkpoint of the tree: a C2SP signed note (origin, size, root) in
-- note; hash is then the tree's root at seq entries. Rows without a note
-- sign the chain's hash at seq (store.CheckpointMessage).
ALTER TABLE audit_checkpoints ADD COLUMN note text;

-- Witnesses' cosignatures of checkpoints: each a note signature line,
-- checked against the witness's key before it is kept.
CREATE TABLE audit_cosignatures (
    tenant_id text NOT NULL REFERENCES tenants(id),
    seq       bigint NOT NULL,
    witness   text NOT NULL,
    signature text NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq, witness)
);
CREATE TRIGGER audit_cosignatures_no_update_delete BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE audit_cosignatures;
ALTER TABLE audit_checkpoints DROP COLUMN note;
DROP TABLE audit_trees;
DROP TABLE audit_tree_hashes;
-- +goose StatementEnd
