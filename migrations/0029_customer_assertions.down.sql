ALTER TABLE api_keys DROP COLUMN assertion_key;
