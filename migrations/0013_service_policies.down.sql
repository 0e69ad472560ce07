ALTER TABLE cases DROP COLUMN policy_version, DROP COLUMN policy_profile;
DROP TABLE tenant_service_policies;
