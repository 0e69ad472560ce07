-- +goose Up
-- +goose StatementBegin
-- Files uploaded to a case. The name and digest (meta_ct) and the bytes
-- (attachment_blobs.data_ct) are sealed under the customer's data key
-- (key_id); type and size stay in clear. message_seq is the message the
-- file went out with, NULL while it waits for one.
CREATE TABLE attachments (
    tenant_id     text        NOT NULL REFERENCES tenants(id),
    id            uuid        NOT NULL,
    case_id       uuid        NOT NULL,
    key_id        text        NOT NULL,
    uploader_kind text        NOT NULL,
    uploader_id   text        NOT NULL,
    content_type  text        NOT NULL,
    size          bigint      NOT NULL CHECK (size > 0),
    meta_ct       bytea,
    message_seq   bigint,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX attachments_by_message ON attachments (tenant_id, case_id, message_seq);

CREATE TABLE attachment_blobs (
    tenant_id text  NOT NULL,
    id        uuid  NOT NULL,
    data_ct   bytea NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, id) REFERENCES attachments (tenant_id, id) ON DELETE CASCADE
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE attachment_blobs;
DROP TABLE attachments;
-- +goose StatementEnd
