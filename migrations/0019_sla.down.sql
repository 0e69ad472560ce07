DROP INDEX cases_sla_due;
ALTER TABLE cases DROP COLUMN sla_due_at, DROP COLUMN sla_breached_at;
