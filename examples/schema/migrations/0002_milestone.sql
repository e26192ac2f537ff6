-- A new table: it is replicated without re-creating any replica.
CREATE TABLE milestone (id INTEGER PRIMARY KEY, title TEXT NOT NULL, due TEXT);
INSERT INTO milestone (id, title) VALUES (1, 'first release');
