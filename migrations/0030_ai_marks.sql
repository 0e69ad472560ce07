-- +goose Up
-- +goose StatementBegin
-- What marks an AI-authored message, machine-readably: the model that wrote
-- it, the version of the knowledge-base article it drew on, and whether it
-- carried the disclosure that the customer is talking to an AI system.
ALTER TABLE messages
    ADD COLUMN model           text,
    ADD COLUMN article_version integer,
    ADD COLUMN ai_disclosure   boolean NOT NULL DEFAULT false;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE messages DROP COLUMN model, DROP COLUMN article_version, DROP COLUMN ai_disclosure;
-- +goose StatementEnd
