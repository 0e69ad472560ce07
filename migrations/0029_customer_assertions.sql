-- +goose Up
-- +goose StatementBegin
-- A front end's key may require a signed customer assertion: the Ed25519
-- public key of the tenant's identity system, which signs, per request, the
-- customer the front end acts for. Only the public key is kept here.
ALTER TABLE api_keys ADD COLUMN assertion_key bytea CHECK (assertion_key IS NULL OR length(assertion_key) = 32);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE api_keys DROP COLUMN assertion_key;
-- +goose StatementEnd
