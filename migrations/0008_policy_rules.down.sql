DROP TABLE policy_version;
DROP TABLE policy_rules;
