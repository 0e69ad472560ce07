DROP INDEX messages_by_client_key;
ALTER TABLE messages DROP COLUMN client_key;
