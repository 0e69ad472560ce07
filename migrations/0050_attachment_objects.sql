-- +goose Up
-- +goose StatementBegin
-- Where an attachment's sealed bytes are: in attachment_blobs ('postgres')
-- or in the configured object store ('objects', named
-- <tenant>/<case>/<attachment>). chunk_size is the plaintext size of the
-- pieces they were sealed in, so a download opens them as they stream;
-- 0 for one piece.
ALTER TABLE attachments
    ADD COLUMN stored_in  text    NOT NULL DEFAULT 'postgres' CHECK (stored_in IN ('postgres', 'objects')),
    ADD COLUMN chunk_size integer NOT NULL DEFAULT 0 CHECK (chunk_size >= 0);

-- Object-store prefixes to delete: written in the transaction that purges
-- a case or erases a customer, and deleted once the objects under the
-- prefix are gone, so a crash between the two leaves the work to do.
CREATE TABLE object_deletions (
    tenant_id  text        NOT NULL,
    prefix     text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, prefix)
);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE object_deletions;
ALTER TABLE attachments DROP COLUMN chunk_size, DROP COLUMN stored_in;
-- +goose StatementEnd
