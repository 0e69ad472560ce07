-- +goose Up
-- +goose StatementBegin
-- The first use of each Idempotency-Key sent with an update of a case
-- (a message, a staff action, a refund request): a retry within
-- workflows.KeyRetention is answered by the workflow, one past it is
-- refused (409 idempotency_key_expired) before anything is sent, so a
-- key is never applied twice however late its retry comes.
CREATE TABLE update_keys (
    tenant_id  text NOT NULL,
    case_id    uuid NOT NULL,
    update_id  text NOT NULL,
    first_used timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, case_id, update_id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES cases(tenant_id, id)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE update_keys;
-- +goose StatementEnd
