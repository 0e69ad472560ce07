ALTER TABLE refunds DROP COLUMN last_step;
