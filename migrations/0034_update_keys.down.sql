DROP TABLE update_keys;
