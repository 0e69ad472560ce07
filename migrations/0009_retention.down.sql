DROP INDEX cases_closed;
ALTER TABLE cases DROP COLUMN purged_at;
ALTER TABLE tenants DROP COLUMN retention_days;
