-- +goose Up
-- +goose StatementBegin
-- Compliance lists a tenant's audit events by action in chain order; without
-- this the listing walks the whole chain for a rare action.
CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, seq);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX audit_events_by_action;
-- +goose StatementEnd
