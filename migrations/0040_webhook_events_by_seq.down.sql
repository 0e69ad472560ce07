DROP INDEX webhook_events_held_by_seq;
DROP INDEX webhook_events_by_seq;
