-- +goose Up
-- +goose StatementBegin
-- The knowledge base the local AI engine answers from: per tenant, articles
-- with example questions in one locale each; an intent ties an article's
-- versions in several languages together. kb_versions moves on every change,
-- so engines rebuild their index without a restart.
CREATE TABLE kb_articles (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    id         uuid NOT NULL,
    intent     text NOT NULL CHECK (intent ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    title      text NOT NULL,
    answer     text NOT NULL,
    questions  jsonb NOT NULL DEFAULT '[]',
    locale     text NOT NULL CHECK (locale IN ('en', 'zh-Hans', 'zh-Hant')),
    domain     text NOT NULL DEFAULT 'general',
    tags       jsonb NOT NULL DEFAULT '[]',
    version    bigint NOT NULL DEFAULT 1,
    published  boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, intent, locale)
);

CREATE TABLE kb_versions (
    tenant_id text PRIMARY KEY REFERENCES tenants(id),
    version   bigint NOT NULL
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE kb_versions;
DROP TABLE kb_articles;
-- +goose StatementEnd
