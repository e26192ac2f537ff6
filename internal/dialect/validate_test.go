package dialect

import "testing"

func TestValidDefault(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true}, {"0", true}, {"-1.5e3", true}, {"'open'", true}, {"'it''s'", true},
		{"(CURRENT_TIMESTAMP)", true}, {"NULL", true}, {"((42))", true},
		{"'a'); DROP TABLE defect; --", false}, {"'x' || 'y'", false}, {"random()", false},
		{"(SELECT 1)", false}, {"'unterminated", false}, {"'a' 'b'", false},
	}
	for _, tt := range tests {
		if got := ValidDefault(tt.in); got != tt.want {
			t.Errorf("ValidDefault(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidType(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true}, {"INTEGER", true}, {"VARCHAR(20)", true}, {"NUMERIC(10, 2)", true}, {"DOUBLE PRECISION", true},
		{"TEXT); DROP TABLE x; --", false}, {"TEXT DEFAULT 'x'", false}, {`TEXT"`, false},
	}
	for _, tt := range tests {
		if got := ValidType(tt.in); got != tt.want {
			t.Errorf("ValidType(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
