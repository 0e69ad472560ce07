-- +goose Up
-- +goose StatementBegin
-- A rating's comment, sealed under the customer's data key (key_id), so it
-- is erased with them.
ALTER TABLE case_ratings ADD COLUMN comment_ct bytea, ADD COLUMN key_id text;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE case_ratings DROP COLUMN comment_ct, DROP COLUMN key_id;
-- +goose StatementEnd
