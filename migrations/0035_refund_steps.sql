-- +goose Up
-- +goose StatementBegin
-- The saga step that last wrote a refund's record: a late write of an
-- earlier step (a lost workflow task's) never moves its status back.
ALTER TABLE refunds ADD COLUMN last_step int NOT NULL DEFAULT 0;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE refunds DROP COLUMN last_step;
-- +goose StatementEnd
