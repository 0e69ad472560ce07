-- +goose Up
-- +goose StatementBegin
-- A case merged into another names it (messages to it are then answered
-- with the other's ID); a case that took others in lists them.
ALTER TABLE cases ADD COLUMN merged_into uuid, ADD COLUMN merged_from jsonb NOT NULL DEFAULT '[]';
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE cases DROP COLUMN merged_into, DROP COLUMN merged_from;
-- +goose StatementEnd
