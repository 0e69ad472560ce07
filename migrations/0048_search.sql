-- +goose Up
-- +goose StatementBegin
-- The search index: each term of a case's messages, notes and subject as
-- an HMAC under a key derived from the customer's data key (never in
-- clear), with how often the case uses it, and its tag (10 bits of an HMAC
-- under the tenant's index key), by which a search reads a 1,024th of the
-- index per term. Rows die with the customer's erasure and the case's purge.
CREATE TABLE search_terms (
    tenant_id text     NOT NULL REFERENCES tenants(id),
    key_id    text     NOT NULL,
    term      bytea    NOT NULL,
    tag       smallint NOT NULL,
    case_id   uuid     NOT NULL,
    hits      integer  NOT NULL CHECK (hits > 0),
    PRIMARY KEY (tenant_id, key_id, term, case_id)
);
CREATE INDEX search_terms_by_tag ON search_terms (tenant_id, tag) INCLUDE (key_id, term, case_id, hits);
CREATE INDEX search_terms_by_case ON search_terms (tenant_id, case_id);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE search_terms;
-- +goose StatementEnd
