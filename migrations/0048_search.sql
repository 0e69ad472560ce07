-- +goose Up
-- +goose StatementBegin
-- The search index: each term of a case's messages, notes and subject as
-- an HMAC under a key derived from the customer's data key (never in
-- clear), with how often the case uses it. Rows die with the customer's
-- erasure and the case's purge.
CREATE TABLE search_terms (
    tenant_id text    NOT NULL REFERENCES tenants(id),
    key_id    text    NOT NULL,
    term      bytea   NOT NULL,
    case_id   uuid    NOT NULL,
    hits      integer NOT NULL CHECK (hits > 0),
    PRIMARY KEY (tenant_id, key_id, term, case_id)
);
CREATE INDEX search_terms_by_case ON search_terms (tenant_id, case_id);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE search_terms;
-- +goose StatementEnd
