-- +goose Up
-- +goose StatementBegin
-- A front end's key may be bound to the channels it serves (comma-separated,
-- empty: every channel): it opens, reads and writes cases of those only.
-- created_by names the person who made the key, so that four-eyes holds
-- across identities: a refund asked for with a key its creator may not decide.
ALTER TABLE api_keys
    ADD COLUMN channels   text NOT NULL DEFAULT '',
    ADD COLUMN created_by text NOT NULL DEFAULT '';
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE api_keys DROP COLUMN created_by, DROP COLUMN channels;
-- +goose StatementEnd
