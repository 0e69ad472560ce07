-- +goose Up
-- +goose StatementBegin
-- For metrics: why a case went to people and when it was resolved (the
-- workflow's projection writes both), and customers' ratings.
ALTER TABLE cases ADD COLUMN escalation_reason text, ADD COLUMN resolved_at timestamptz;
CREATE INDEX cases_opened ON cases (tenant_id, opened_at);

CREATE TABLE case_ratings (
    tenant_id text NOT NULL,
    case_id   uuid NOT NULL,
    score     smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    rated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, case_id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES cases(tenant_id, id)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE case_ratings;
DROP INDEX cases_opened;
ALTER TABLE cases DROP COLUMN resolved_at, DROP COLUMN escalation_reason;
-- +goose StatementEnd
