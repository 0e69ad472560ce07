DROP TABLE legal_holds;
DROP INDEX cases_by_customer;
-- Ciphertext cannot be turned back into plaintext here: rows written while
-- encryption was on lose their body and customer reference on the way down.
UPDATE cases SET customer_ref = '' WHERE customer_ref IS NULL;
UPDATE messages SET body = '' WHERE body IS NULL;
ALTER TABLE cases DROP COLUMN key_id, DROP COLUMN customer_hash, DROP COLUMN customer_ref_ct,
    ALTER COLUMN customer_ref SET NOT NULL;
ALTER TABLE messages DROP COLUMN key_id, DROP COLUMN body_ct, ALTER COLUMN body SET NOT NULL;
DROP TABLE data_keys;
DROP TABLE tenant_keys;
