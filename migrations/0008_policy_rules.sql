-- +goose Up
-- +goose StatementBegin
-- casbin policy lines, seeded from policies/policy.csv and edited through the
-- admin API. version goes up with every change, so each API instance can tell
-- cheaply when to reload.
CREATE TABLE policy_rules (
    ptype text NOT NULL CHECK (ptype IN ('p', 'g')),
    v0    text NOT NULL,
    v1    text NOT NULL,
    v2    text NOT NULL DEFAULT '',
    v3    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ptype, v0, v1, v2, v3)
);
CREATE TABLE policy_version (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL
);
INSERT INTO policy_version (version) VALUES (0);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE policy_version;
DROP TABLE policy_rules;
-- +goose StatementEnd
