ALTER TABLE cases DROP CONSTRAINT cases_status_check;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed',
                      'paid', 'issued', 'failed', 'compensated'));
