package syncpkt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/multisite-go/multisite/syncpkt"
)

// addTestdataSeeds adds every file in testdata matching pattern to the
// fuzz corpus.
func addTestdataSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzReader feeds arbitrary bytes to a Reader. Errors are fine; a panic,
// or a record returned after an error, is a bug.
func FuzzReader(f *testing.F) {
	addTestdataSeeds(f, "*.pkt")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opt := range []syncpkt.ReaderOptions{
			{MaxFrame: 1 << 20},
			{MaxFrame: 1 << 20, PublicKey: verified.PublicKey},
		} {
			r := syncpkt.NewReader(bytes.NewReader(b), opt)
			for { // any error ends the loop; a panic fails the target
				rec, err := r.Next()
				if err != nil {
					if rec != nil {
						t.Fatalf("Next returned %T with error %v", rec, err)
					}
					break
				}
			}
		}
	})
}
