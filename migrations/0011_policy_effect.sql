-- +goose Up
-- +goose StatementBegin
-- Grants gain an effect: allow, or deny, which wins over any allow; so a
-- tenant can take away a default grant in its own domain.
ALTER TABLE policy_rules ADD COLUMN v4 text NOT NULL DEFAULT '';
UPDATE policy_rules SET v4 = 'allow' WHERE ptype = 'p';
ALTER TABLE policy_rules DROP CONSTRAINT policy_rules_pkey, ADD PRIMARY KEY (ptype, v0, v1, v2, v3, v4);
UPDATE policy_version SET version = version + 1;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DELETE FROM policy_rules WHERE v4 = 'deny';
ALTER TABLE policy_rules DROP CONSTRAINT policy_rules_pkey, ADD PRIMARY KEY (ptype, v0, v1, v2, v3);
ALTER TABLE policy_rules DROP COLUMN v4;
UPDATE policy_version SET version = version + 1;
-- +goose StatementEnd
