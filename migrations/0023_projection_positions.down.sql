DROP INDEX messages_by_client_key;
CREATE UNIQUE INDEX messages_by_client_key ON messages (tenant_id, case_id, client_key) WHERE client_key IS NOT NULL;
DROP TABLE projection_conflicts;
ALTER TABLE messages DROP COLUMN fingerprint, DROP COLUMN proj_event, DROP COLUMN proj_gen;
ALTER TABLE cases DROP COLUMN proj_event, DROP COLUMN proj_gen;
