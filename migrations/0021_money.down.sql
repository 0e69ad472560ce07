DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE gateway_payments;
DROP TABLE refunds;
DROP TABLE orders;
