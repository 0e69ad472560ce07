DELETE FROM policy_rules WHERE v4 = 'deny';
ALTER TABLE policy_rules DROP CONSTRAINT policy_rules_pkey, ADD PRIMARY KEY (ptype, v0, v1, v2, v3);
ALTER TABLE policy_rules DROP COLUMN v4;
UPDATE policy_version SET version = version + 1;
