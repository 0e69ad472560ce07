-- +goose Up
-- +goose StatementBegin
-- People who work cases: availability and how many cases they can hold at
-- once, for routing (the case workflow reads them); their queues are in
-- agent_queues.
CREATE TABLE agents (
    tenant_id  text NOT NULL REFERENCES tenants(id),
    agent_id   text NOT NULL,
    status     text NOT NULL CHECK (status IN ('available', 'away', 'offline')),
    capacity   integer NOT NULL CHECK (capacity BETWEEN 0 AND 50),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE agents;
-- +goose StatementEnd
