-- +goose Up
-- +goose StatementBegin
-- The data key that seals a workflow's Temporal payloads: a case's and a
-- refund's are the customer's, so destroying it on erasure makes their
-- workflow histories unreadable wherever a copy survives (workflows/codec).
-- Bound before the workflow's first payload is written; never changed.
CREATE TABLE payload_keys (
    workflow_id text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id),
    key_id      text NOT NULL REFERENCES data_keys(id)
);

-- Open cases and their refunds seal what they write from now on with their
-- customer's key; what their histories already hold stays under the payload
-- key (erasure deletes those runs).
INSERT INTO payload_keys (workflow_id, tenant_id, key_id)
SELECT 'case:' || tenant_id || ':' || id, tenant_id, key_id FROM cases WHERE key_id IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO payload_keys (workflow_id, tenant_id, key_id)
SELECT 'refund:' || r.tenant_id || ':' || r.id, r.tenant_id, c.key_id
FROM refunds r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id
WHERE c.key_id IS NOT NULL
ON CONFLICT DO NOTHING;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE payload_keys;
-- +goose StatementEnd
