-- +goose Up
-- +goose StatementBegin
-- Who works a case: the agent it is assigned to, or the queue it waits in.
-- Agents see only those cases (policies.CaseScope); the case workflow sets
-- both as people claim, release and are routed cases.
ALTER TABLE cases ADD COLUMN assignee_id text, ADD COLUMN queue text;
CREATE INDEX cases_by_assignee ON cases (tenant_id, assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX cases_by_queue ON cases (tenant_id, queue) WHERE queue IS NOT NULL AND assignee_id IS NULL;

-- The queues each agent works.
CREATE TABLE agent_queues (
    tenant_id text NOT NULL REFERENCES tenants(id),
    agent_id  text NOT NULL,
    queue     text NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, queue)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE agent_queues;
DROP INDEX cases_by_queue;
DROP INDEX cases_by_assignee;
ALTER TABLE cases DROP COLUMN queue, DROP COLUMN assignee_id;
-- +goose StatementEnd
