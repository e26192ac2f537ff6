package multisite

import "testing"

// TestPacketLimits checks the public rule of the size limits (0: the
// default; negative: no limit) as the engine receives it (0: no limit).
func TestPacketLimits(t *testing.T) {
	tests := []struct {
		name         string
		imp, create  int64
		wantImport   int64
		wantCreation int64
	}{
		{"zero means the defaults", 0, 0, DefaultMaxPacketSize, DefaultMaxCreationSize},
		{"negative means no limit", -1, -5, 0, 0},
		{"a limit is kept", 4096, 1 << 40, 4096, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engineImportOptions(ImportOptions{MaxPacketSize: tt.imp}).MaxPacketSize; got != tt.wantImport {
				t.Errorf("import limit %d reaches the engine as %d, want %d", tt.imp, got, tt.wantImport)
			}
			if got := engineCreateOptions(CreateOptions{MaxPacketSize: tt.create}).MaxPacketSize; got != tt.wantCreation {
				t.Errorf("creation limit %d reaches the engine as %d, want %d", tt.create, got, tt.wantCreation)
			}
		})
	}
	if DefaultMaxPacketSize != 1<<30 || DefaultMaxRowSize != 64<<20 {
		t.Errorf("defaults %d, %d; the docs say 1 GiB and 64 MiB", DefaultMaxPacketSize, DefaultMaxRowSize)
	}
}
