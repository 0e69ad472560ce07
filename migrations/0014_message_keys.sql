-- +goose Up
-- +goose StatementBegin
-- The Idempotency-Key a message was posted with. Temporal recognises a retried
-- update only within one workflow run, and long cases continue as new runs,
-- so retries are answered from here.
ALTER TABLE messages ADD COLUMN client_key text;
CREATE UNIQUE INDEX messages_by_client_key ON messages (tenant_id, case_id, client_key) WHERE client_key IS NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX messages_by_client_key;
ALTER TABLE messages DROP COLUMN client_key;
-- +goose StatementEnd
