ALTER TABLE messages DROP COLUMN model, DROP COLUMN article_version, DROP COLUMN ai_disclosure;
