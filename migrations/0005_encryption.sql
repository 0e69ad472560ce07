-- +goose Up
-- +goose StatementBegin
-- Encryption at rest. Message bodies and customer references are sealed with
-- AES-256-GCM under a data key per (tenant, customer); data keys are stored
-- wrapped by a master key that never enters the database. Destroying a
-- customer's data keys (crypto-shredding) makes their data unreadable while
-- every other record, the audit chain included, stays intact.

-- Per tenant: the key of the blind index that finds a customer's data keys
-- by reference (HMAC-SHA-256) without keeping the reference in clear.
CREATE TABLE tenant_keys (
    tenant_id     text PRIMARY KEY REFERENCES tenants(id),
    wrapped_key   bytea NOT NULL,
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE data_keys (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants(id),
    customer_hash bytea NOT NULL,
    wrapped_key   bytea,            -- NULL once destroyed
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz,
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);
-- One live key per customer; an erased customer who comes back gets a new one.
CREATE UNIQUE INDEX data_keys_live ON data_keys (tenant_id, customer_hash) WHERE destroyed_at IS NULL;
CREATE INDEX data_keys_by_customer ON data_keys (tenant_id, customer_hash);

-- New rows carry ciphertext only; rows written before this migration keep
-- their plaintext columns and are read as they are.
ALTER TABLE messages ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN body_ct bytea,
    ADD COLUMN key_id text REFERENCES data_keys(id);
ALTER TABLE cases ALTER COLUMN customer_ref DROP NOT NULL,
    ADD COLUMN customer_ref_ct bytea,
    ADD COLUMN customer_hash bytea,
    ADD COLUMN key_id text REFERENCES data_keys(id);
CREATE INDEX cases_by_customer ON cases (tenant_id, customer_hash);

-- Legal holds block erasure (and, later, retention deletes) of a customer or a case.
CREATE TABLE legal_holds (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants(id),
    case_id       uuid,
    customer_hash bytea,
    reason        text NOT NULL,
    placed_by     text NOT NULL,
    placed_at     timestamptz NOT NULL DEFAULT now(),
    released_by   text,
    released_at   timestamptz,
    CHECK ((case_id IS NULL) <> (customer_hash IS NULL))
);
CREATE INDEX legal_holds_active ON legal_holds (tenant_id) WHERE released_at IS NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE legal_holds;
DROP INDEX cases_by_customer;
-- Ciphertext cannot be turned back into plaintext here: rows written while
-- encryption was on lose their body and customer reference on the way down.
UPDATE cases SET customer_ref = '' WHERE customer_ref IS NULL;
UPDATE messages SET body = '' WHERE body IS NULL;
ALTER TABLE cases DROP COLUMN key_id, DROP COLUMN customer_hash, DROP COLUMN customer_ref_ct,
    ALTER COLUMN customer_ref SET NOT NULL;
ALTER TABLE messages DROP COLUMN key_id, DROP COLUMN body_ct, ALTER COLUMN body SET NOT NULL;
DROP TABLE data_keys;
DROP TABLE tenant_keys;
-- +goose StatementEnd
