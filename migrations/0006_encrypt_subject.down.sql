UPDATE cases SET subject = '' WHERE subject IS NULL;
ALTER TABLE cases DROP COLUMN subject_ct, ALTER COLUMN subject SET NOT NULL;
