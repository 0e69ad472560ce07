-- +goose Up
-- +goose StatementBegin
-- The SLA clock's view in the projection: when the case is next due (the
-- earliest deadline of a running clock) and when it first breached a target.
ALTER TABLE cases ADD COLUMN sla_due_at timestamptz, ADD COLUMN sla_breached_at timestamptz;
CREATE INDEX cases_sla_due ON cases (tenant_id, sla_due_at) WHERE sla_due_at IS NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX cases_sla_due;
ALTER TABLE cases DROP COLUMN sla_due_at, DROP COLUMN sla_breached_at;
-- +goose StatementEnd
