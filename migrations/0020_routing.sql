-- +goose Up
-- +goose StatementBegin
-- Routing: the languages an agent answers in (none listed: any), and the
-- agent a queued case is offered to until the offer lapses.
ALTER TABLE agents ADD COLUMN languages jsonb NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN offered_to text;
CREATE INDEX cases_by_offer ON cases (tenant_id, offered_to) WHERE offered_to IS NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX cases_by_offer;
ALTER TABLE cases DROP COLUMN offered_to;
ALTER TABLE agents DROP COLUMN languages;
-- +goose StatementEnd
