-- +goose Up
-- +goose StatementBegin
-- When a message or a refund last named an upload not yet sent: the
-- expiry of unsent uploads spares one named within its time, so a message
-- accepted with a file never loses it to the expiry.
ALTER TABLE attachments ADD COLUMN claimed_at timestamptz;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE attachments DROP COLUMN claimed_at;
-- +goose StatementEnd
