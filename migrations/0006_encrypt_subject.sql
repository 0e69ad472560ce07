-- +goose Up
-- +goose StatementBegin
-- A case's subject is the customer's own words (an e-mail subject line, say),
-- so it is personal data too: sealed under the customer's data key like the
-- customer reference. Rows written before keep their plaintext column.
ALTER TABLE cases ALTER COLUMN subject DROP NOT NULL, ADD COLUMN subject_ct bytea;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
UPDATE cases SET subject = '' WHERE subject IS NULL;
ALTER TABLE cases DROP COLUMN subject_ct, ALTER COLUMN subject SET NOT NULL;
-- +goose StatementEnd
