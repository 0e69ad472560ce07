DROP TABLE agent_queues;
DROP INDEX cases_by_queue;
DROP INDEX cases_by_assignee;
ALTER TABLE cases DROP COLUMN queue, DROP COLUMN assignee_id;
