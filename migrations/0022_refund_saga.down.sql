DROP TABLE notifications;
DROP INDEX refunds_by_status;
ALTER TABLE refunds
    DROP COLUMN rule, DROP COLUMN auto_rejected, DROP COLUMN appealable, DROP COLUMN decided_by,
    DROP COLUMN appealed_by, DROP COLUMN appealed_at, DROP COLUMN overturned, DROP COLUMN escalated_at,
    DROP COLUMN payment_ref, DROP COLUMN items, DROP COLUMN evidence;
DELETE FROM refunds WHERE status NOT IN ('requested', 'approved', 'rejected', 'paid', 'failed', 'compensated')
    OR order_ref NOT IN (SELECT order_ref FROM orders o WHERE o.tenant_id = refunds.tenant_id);
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'paid', 'failed', 'compensated'));
ALTER TABLE refunds ADD CONSTRAINT refunds_tenant_id_order_ref_fkey
    FOREIGN KEY (tenant_id, order_ref) REFERENCES orders (tenant_id, order_ref);
