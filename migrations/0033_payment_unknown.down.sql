-- Parked refunds go back to approved: their saga is still paying them.
UPDATE refunds SET status = 'approved' WHERE status = 'payment_unknown';
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed', 'paid', 'issued', 'failed'));
