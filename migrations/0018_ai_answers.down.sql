ALTER TABLE messages DROP COLUMN article_id;
