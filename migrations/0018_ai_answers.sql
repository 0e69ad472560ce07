-- +goose Up
-- +goose StatementBegin
-- The knowledge-base article an AI answer came from, so that agents and
-- auditors see what the customer was told and why.
ALTER TABLE messages ADD COLUMN article_id text;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE messages DROP COLUMN article_id;
-- +goose StatementEnd
