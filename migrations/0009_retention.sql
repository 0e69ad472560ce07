-- +goose Up
-- +goose StatementBegin
-- Retention: closed cases older than their tenant's period have their
-- conversation and personal fields purged; rows and the audit trail stay.
ALTER TABLE tenants ADD COLUMN retention_days integer CHECK (retention_days > 0);
ALTER TABLE cases ADD COLUMN purged_at timestamptz;
CREATE INDEX cases_closed ON cases (tenant_id, closed_at) WHERE closed_at IS NOT NULL AND purged_at IS NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX cases_closed;
ALTER TABLE cases DROP COLUMN purged_at;
ALTER TABLE tenants DROP COLUMN retention_days;
-- +goose StatementEnd
