DROP TABLE audit_cosignatures;
ALTER TABLE audit_checkpoints DROP COLUMN note;
DROP TABLE audit_trees;
DROP TABLE audit_tree_hashes;
