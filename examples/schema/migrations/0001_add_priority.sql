-- +goose Up
-- Every defect gets a priority; severe ones start urgent.
ALTER TABLE defect ADD COLUMN priority INTEGER NOT NULL DEFAULT 3;
UPDATE defect SET priority = 1 WHERE severity >= 4;

-- +goose Down
-- Migrations never go down here: a new one undoes an old one.
ALTER TABLE defect DROP COLUMN priority;
