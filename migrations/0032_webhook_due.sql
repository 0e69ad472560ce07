-- +goose Up
-- +goose StatementBegin
-- An endpoint's delivery loop (store.DeliveriesDue) waits for these
-- instead of polling: a delivery that becomes pending, and a change to the
-- endpoint (disabled, deleted), wake it. NOTIFY is sent when the
-- transaction commits; identical ones in a transaction are sent once.
CREATE FUNCTION webhook_delivery_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'pending' THEN
        PERFORM pg_notify('tandem_webhook_due', NEW.tenant_id || ':' || NEW.endpoint_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_delivery_due AFTER INSERT OR UPDATE OF status, next_attempt_at ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION webhook_delivery_due();

CREATE FUNCTION webhook_endpoint_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tandem_webhook_due', NEW.tenant_id || ':' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_endpoint_changed AFTER UPDATE ON webhook_endpoints
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION webhook_endpoint_changed();
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TRIGGER webhook_endpoint_changed ON webhook_endpoints;
DROP FUNCTION webhook_endpoint_changed();
DROP TRIGGER webhook_delivery_due ON webhook_deliveries;
DROP FUNCTION webhook_delivery_due();
-- +goose StatementEnd
