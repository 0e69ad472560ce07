-- +goose Up
-- +goose StatementBegin
-- Money: the demo order book (the built-in order-system adapter), refund
-- requests, the simulated payment gateway's own records, and a double-entry
-- ledger. Amounts are numeric, never floating point.

-- Orders a customer placed. The customer is named by the tenant's blind
-- index of their reference (store.customerHash), never in clear.
CREATE TABLE orders (
    tenant_id     text NOT NULL REFERENCES tenants(id),
    order_ref     text NOT NULL CHECK (length(order_ref) BETWEEN 1 AND 64),
    customer_hash bytea NOT NULL,
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total         numeric(18, 4) NOT NULL CHECK (total > 0),
    placed_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_ref)
);

CREATE TABLE refunds (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    case_id      uuid NOT NULL,
    order_ref    text NOT NULL,
    kind         text NOT NULL DEFAULT 'refund'
                 CHECK (kind IN ('refund', 'goodwill_credit', 'coupon', 'fee_waiver', 'shipping_refund')),
    amount       numeric(18, 4) NOT NULL CHECK (amount > 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason_code  text NOT NULL,
    status       text NOT NULL
                 CHECK (status IN ('requested', 'approved', 'rejected', 'paid', 'failed', 'compensated')),
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, order_ref) REFERENCES orders (tenant_id, order_ref)
);
CREATE INDEX refunds_by_case ON refunds (tenant_id, case_id, created_at);
CREATE INDEX refunds_by_order ON refunds (tenant_id, order_ref);

-- The simulated gateway's side: one row per idempotency key, so a repeated
-- payment request pays once.
CREATE TABLE gateway_payments (
    tenant_id       text NOT NULL REFERENCES tenants(id),
    idempotency_key text NOT NULL,
    amount          numeric(18, 4) NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    reference       text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);

-- Double entry: every movement is one row that debits one account and
-- credits another by the same amount, so each currency's debits and credits
-- always balance. id makes a retried posting write once. Append-only.
CREATE TABLE ledger_entries (
    tenant_id      text NOT NULL REFERENCES tenants(id),
    seq            bigserial,
    id             text NOT NULL,
    refund_id      uuid,
    debit_account  text NOT NULL,
    credit_account text NOT NULL CHECK (credit_account <> debit_account),
    amount         numeric(18, 4) NOT NULL CHECK (amount > 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    memo           text NOT NULL DEFAULT '',
    posted_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, id)
);

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_entries_no_update_delete BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE gateway_payments;
DROP TABLE refunds;
DROP TABLE orders;
-- +goose StatementEnd
