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
