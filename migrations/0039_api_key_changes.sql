-- +goose Up
-- +goose StatementBegin
-- Every API process keeps the keys it has checked in memory and forgets one
-- when this says it changed: a revocation (by the API or by hand in SQL)
-- takes effect at once everywhere. Last-use bookkeeping says nothing.
CREATE FUNCTION api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tandem_api_keys', OLD.id);
        RETURN OLD;
    END IF;
    IF (OLD.id, OLD.tenant_id, OLD.role, OLD.secret_hash, OLD.revoked_at, OLD.channels, OLD.assertion_key)
        IS DISTINCT FROM (NEW.id, NEW.tenant_id, NEW.role, NEW.secret_hash, NEW.revoked_at, NEW.channels, NEW.assertion_key) THEN
        PERFORM pg_notify('tandem_api_keys', OLD.id);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_key_changed();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TRIGGER api_keys_changed ON api_keys;
DROP FUNCTION api_key_changed();
-- +goose StatementEnd
