-- +goose Up
-- +goose StatementBegin
-- A case's webhook events are written by its projection write, inside a
-- workflow task that may yet be lost. They are held, with the position
-- that wrote them (the run, and the history length at the task's start),
-- until the history shows that task completed: then they are released to
-- webhooks and the live stream; if it failed or timed out they are voided,
-- and the write counted as a conflict. Refund events (written by
-- activities, done again the same) are never held.
ALTER TABLE webhook_events ADD COLUMN held boolean NOT NULL DEFAULT false;
ALTER TABLE webhook_events ADD COLUMN workflow_id text;
ALTER TABLE webhook_events ADD COLUMN run_id text;
ALTER TABLE webhook_events ADD COLUMN proj_gen bigint;
ALTER TABLE webhook_events ADD COLUMN proj_event bigint;
CREATE INDEX webhook_events_held ON webhook_events (tenant_id, seq) WHERE held;

ALTER TABLE projection_conflicts DROP CONSTRAINT projection_conflicts_kind_check;
ALTER TABLE projection_conflicts ADD CONSTRAINT projection_conflicts_kind_check CHECK (kind IN ('message_replaced',
    'audit_diverged', 'case_repaired', 'message_removed', 'message_restored', 'write_lost'));
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DELETE FROM projection_conflicts WHERE kind = 'write_lost';
ALTER TABLE projection_conflicts DROP CONSTRAINT projection_conflicts_kind_check;
ALTER TABLE projection_conflicts ADD CONSTRAINT projection_conflicts_kind_check CHECK (kind IN ('message_replaced',
    'audit_diverged', 'case_repaired', 'message_removed', 'message_restored'));
DROP INDEX webhook_events_held;
ALTER TABLE webhook_events DROP COLUMN proj_event;
ALTER TABLE webhook_events DROP COLUMN proj_gen;
ALTER TABLE webhook_events DROP COLUMN run_id;
ALTER TABLE webhook_events DROP COLUMN workflow_id;
ALTER TABLE webhook_events DROP COLUMN held;
-- +goose StatementEnd
