-- +goose Up
-- +goose StatementBegin
-- The refund saga's record: the rule behind every decision, who decided,
-- appeals of automatic rejections, aging approvals, items and evidence; and
-- an outbox of notifications. Requests refused for a fact of the order
-- (no such order, …) are recorded too, so the auto-reject rate counts them,
-- which is why a refund no longer needs its order to exist.
ALTER TABLE refunds DROP CONSTRAINT refunds_tenant_id_order_ref_fkey;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'awaiting_approval', 'approved', 'rejected', 'appealed',
                      'paid', 'issued', 'failed', 'compensated'));
ALTER TABLE refunds
    ADD COLUMN rule          text NOT NULL DEFAULT '',
    ADD COLUMN auto_rejected boolean NOT NULL DEFAULT false,
    ADD COLUMN appealable    boolean NOT NULL DEFAULT false,
    ADD COLUMN decided_by    text NOT NULL DEFAULT '',
    ADD COLUMN appealed_by   text NOT NULL DEFAULT '',
    ADD COLUMN appealed_at   timestamptz,
    ADD COLUMN overturned    boolean NOT NULL DEFAULT false,
    ADD COLUMN escalated_at  timestamptz,
    ADD COLUMN payment_ref   text NOT NULL DEFAULT '',
    ADD COLUMN items         jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN evidence      jsonb NOT NULL DEFAULT '[]';
CREATE INDEX refunds_by_status ON refunds (tenant_id, status, created_at);

-- What a refund's progress tells people: the customer when it is paid,
-- refused or failed; approvers when one waits or ages. A channel gateway
-- delivers them; id makes a retried saga step notify once.
CREATE TABLE notifications (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    id         text NOT NULL,
    case_id    uuid NOT NULL,
    recipient  text NOT NULL, -- customer, or a role: supervisor, finance
    kind       text NOT NULL, -- refund.paid, refund.awaiting_approval, …
    subject_id text NOT NULL, -- the refund
    created_at timestamptz NOT NULL,
    sent_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX notifications_unsent ON notifications (tenant_id, created_at) WHERE sent_at IS NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
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
-- +goose StatementEnd
