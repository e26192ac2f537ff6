CREATE TABLE milestone (id BIGINT PRIMARY KEY, title TEXT NOT NULL, due TEXT);
INSERT INTO milestone (id, title) VALUES (1, 'first release');
