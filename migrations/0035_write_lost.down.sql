DELETE FROM projection_conflicts WHERE kind = 'write_lost';
ALTER TABLE projection_conflicts DROP CONSTRAINT projection_conflicts_kind_check;
ALTER TABLE projection_conflicts ADD CONSTRAINT projection_conflicts_kind_check
    CHECK (kind IN ('message_replaced', 'audit_diverged', 'case_repaired', 'message_removed', 'message_restored'));
