CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(200) NOT NULL, due VARCHAR(10));
INSERT INTO milestone (id, title) VALUES (1, 'first release');
