package location

import "testing"

func TestLocation(t *testing.T) {
	tests := []struct {
		in, driver, dsn, display string
		server                   bool
	}{
		{"boston.db", "", "", "boston.db", false},
		{"postgres://u:secret@h:5432/db", "pgx", "postgres://u:secret@h:5432/db", "postgres://u:***@h:5432/db", true},
		{"postgresql://u@h/db", "pgx", "postgresql://u@h/db", "postgresql://u@h/db", true},
		{"mysql://root:pw@tcp(h:3306)/db", "mysql", "root:pw@tcp(h:3306)/db", "mysql://root:***@tcp(h:3306)/db", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			driver, dsn, ok := Server(tt.in)
			if driver != tt.driver || dsn != tt.dsn || ok != tt.server {
				t.Errorf("Server(%q) = %q, %q, %v; want %q, %q, %v", tt.in, driver, dsn, ok, tt.driver, tt.dsn, tt.server)
			}
			if got := Display(tt.in); got != tt.display {
				t.Errorf("Display(%q) = %q, want %q", tt.in, got, tt.display)
			}
		})
	}
	if got, want := SQLiteDSN("a?b#c%.db"), "file:a%3fb%23c%25.db?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"; got != want {
		t.Errorf("SQLiteDSN = %q, want %q", got, want)
	}
}
