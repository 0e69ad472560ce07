DROP INDEX cases_by_offer;
ALTER TABLE cases DROP COLUMN offered_to;
ALTER TABLE agents DROP COLUMN languages;
