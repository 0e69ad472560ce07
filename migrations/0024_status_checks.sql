-- +goose Up
-- +goose StatementBegin
-- The statuses the code writes, and no others: the same lists as
-- workflows.Statuses and workflows.RefundStatuses (a test holds them to each
-- other). No code ever wrote the refund status 'compensated'.
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed', 'paid', 'issued', 'failed'));
ALTER TABLE cases ADD CONSTRAINT cases_status_check
    CHECK (status IN ('ai_handling', 'queued', 'assigned', 'in_progress', 'waiting_on_customer', 'resolved', 'closed'));
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE cases DROP CONSTRAINT cases_status_check;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed',
                      'paid', 'issued', 'failed', 'compensated'));
-- +goose StatementEnd
