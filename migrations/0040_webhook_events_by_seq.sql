-- +goose Up
-- +goose StatementBegin
-- The live stream and the delivery loops read a tenant's events by
-- position; the settler reads the held ones, a few at a time, oldest first.
-- Without these the first read the whole table each time, and the second
-- did too whenever the statistics still counted released events as held.
CREATE INDEX webhook_events_by_seq ON webhook_events (tenant_id, seq);
CREATE INDEX webhook_events_held_by_seq ON webhook_events (seq) WHERE held;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX webhook_events_held_by_seq;
DROP INDEX webhook_events_by_seq;
-- +goose StatementEnd
