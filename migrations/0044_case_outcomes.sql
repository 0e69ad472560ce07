-- +goose Up
-- +goose StatementBegin
-- How a case ended, for exports and reports: its resolution code and the
-- reason it was closed with (codes, as the audit trail keeps them).
ALTER TABLE cases ADD COLUMN resolution text, ADD COLUMN close_reason text;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE cases DROP COLUMN resolution, DROP COLUMN close_reason;
-- +goose StatementEnd
