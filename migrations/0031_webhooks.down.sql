DELETE FROM notifications WHERE case_id IS NULL;
ALTER TABLE notifications ALTER COLUMN case_id SET NOT NULL;
ALTER TABLE tenants DROP COLUMN webhooks_allow_private;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
