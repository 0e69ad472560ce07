-- +goose Up
-- +goose StatementBegin
-- A refund whose payment the provider has not confirmed or declined in
-- time is parked as payment_unknown for finance, never reversed
-- (workflows.RefundStatuses holds the same list; a test holds them together).
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed', 'paid', 'issued', 'failed',
                      'payment_unknown'));
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
-- Parked refunds go back to approved: their saga is still paying them.
UPDATE refunds SET status = 'approved' WHERE status = 'payment_unknown';
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed', 'paid', 'issued', 'failed'));
-- +goose StatementEnd
