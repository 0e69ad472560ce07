-- +goose Up
-- +goose StatementBegin
-- Where in its case's history each projection write was made: the run
-- (continue-as-new generation) and the history length of the workflow task.
-- A local activity writes before its workflow task is committed; a task lost
-- in a crash is done again later in the history, so of two writes of one row
-- the later position is the one Temporal committed, and the projection keeps it.
ALTER TABLE cases
    ADD COLUMN proj_gen   bigint NOT NULL DEFAULT 0,
    ADD COLUMN proj_event bigint NOT NULL DEFAULT 0;
ALTER TABLE messages
    ADD COLUMN proj_gen    bigint NOT NULL DEFAULT 0,
    ADD COLUMN proj_event  bigint NOT NULL DEFAULT 0,
    -- HMAC of the message under the customer's data key: tells a replaced
    -- message from a rewritten one, and is shredded with the key.
    ADD COLUMN fingerprint bytea;

-- What the projection found and repaired: a message a lost workflow task had
-- written replaced by the committed one, an audit entry that diverged from
-- the committed one, a case row or message repaired by the consistency check.
CREATE TABLE projection_conflicts (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    case_id     uuid NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('message_replaced', 'audit_diverged', 'case_repaired',
                                               'message_removed', 'message_restored')),
    detected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_conflicts_by_case ON projection_conflicts (tenant_id, case_id, detected_at);

-- A key may stand on a message a lost workflow task wrote and on the one
-- committed in its place: the committed one (the later position) answers.
DROP INDEX messages_by_client_key;
CREATE INDEX messages_by_client_key ON messages (tenant_id, case_id, client_key) WHERE client_key IS NOT NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX messages_by_client_key;
CREATE UNIQUE INDEX messages_by_client_key ON messages (tenant_id, case_id, client_key) WHERE client_key IS NOT NULL;
DROP TABLE projection_conflicts;
ALTER TABLE messages DROP COLUMN fingerprint, DROP COLUMN proj_event, DROP COLUMN proj_gen;
ALTER TABLE cases DROP COLUMN proj_event, DROP COLUMN proj_gen;
-- +goose StatementEnd
