DROP TRIGGER webhook_endpoint_changed ON webhook_endpoints;
DROP FUNCTION webhook_endpoint_changed();
DROP TRIGGER webhook_delivery_due ON webhook_deliveries;
DROP FUNCTION webhook_delivery_due();
