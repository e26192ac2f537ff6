package plan

import (
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://cq:s3cr%40t@db:5432/x?sslmode=disable": "postgres://cq:***@db:5432/x?sslmode=disable",
		"postgres://cq@db:5432/x":                          "postgres://cq@db:5432/x",
		"cq:p@ss@tcp(db:3306)/x?loc=a@b":                   "cq:***@tcp(db:3306)/x?loc=a@b",
		"cq@tcp(db:3306)/x":                                "cq@tcp(db:3306)/x",
		"postgresql://db.example.com/x?user=a@b":           "postgresql://db.example.com/x?user=a@b",
		"boston.db":                                        "boston.db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCron(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "* * * * *", 15 * time.Minute: "*/15 * * * *", 7 * time.Minute: "", time.Hour: "0 * * * *",
		6 * time.Hour: "0 */6 * * *", 5 * time.Hour: "", 24 * time.Hour: "0 0 * * *", 48 * time.Hour: "", 90 * time.Second: "",
		90 * time.Minute: "",
	} {
		if got := cron(d); got != want {
			t.Errorf("cron(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 24 * time.Hour: "24h", 90 * time.Second: "1m30s", 500 * time.Millisecond: "500ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"boston.db": "boston.db", "/srv/bay": "/srv/bay", "C:\\bay": `'C:\bay'`, "it's": `'it'\''s'`,
		"cq@tcp(h:3306)/d": "'cq@tcp(h:3306)/d'", "a b": "'a b'", "": "''",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}
