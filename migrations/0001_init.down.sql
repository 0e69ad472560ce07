DROP TABLE idempotency_keys;
DROP TABLE messages;
DROP TABLE cases;
DROP TABLE tenants;
