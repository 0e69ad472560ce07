DROP TABLE case_ratings;
DROP INDEX cases_opened;
ALTER TABLE cases DROP COLUMN resolved_at, DROP COLUMN escalation_reason;
