-- +goose Up
-- +goose StatementBegin
-- Staff notes live among a case's messages, numbered with them, sealed and
-- erased with them, but marked internal: no customer view, front end's
-- event or AI context reads them. mentions: the agents a note calls on,
-- comma-separated agent IDs.
ALTER TABLE messages
    ADD COLUMN internal boolean NOT NULL DEFAULT false,
    ADD COLUMN mentions text;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE messages DROP COLUMN internal, DROP COLUMN mentions;
-- +goose StatementEnd
