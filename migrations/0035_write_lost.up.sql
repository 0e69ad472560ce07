-- A lost workflow task's projection write that arrived after a later,
-- committed one is counted as a conflict too (store.ConflictWriteLost).
ALTER TABLE projection_conflicts DROP CONSTRAINT projection_conflicts_kind_check;
ALTER TABLE projection_conflicts ADD CONSTRAINT projection_conflicts_kind_check
    CHECK (kind IN ('message_replaced', 'audit_diverged', 'case_repaired', 'message_removed', 'message_restored', 'write_lost'));
