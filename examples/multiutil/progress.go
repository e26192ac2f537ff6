package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// isTerminal reports whether w is a character device (a terminal), so that
// progress bars are drawn for people and never into files or pipes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bar is a small progress bar drawn on one terminal line. It redraws at
// most ten times a second; the library calls Progress per row.
type bar struct {
	w     io.Writer
	label string
	last  time.Time
	drawn bool
}

// progress returns a callback for the library's Progress options, or nil
// (no callbacks at all) when progress is not shown.
func (e *env) progressBar(label string) (*bar, func(done, total int)) {
	if !e.progress {
		return nil, nil
	}
	b := &bar{w: e.stderr, label: label}
	return b, b.update
}

func (b *bar) update(done, total int) {
	now := time.Now()
	if done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	fill := width
	pct := 100
	if total > 0 {
		fill = done * width / total
		pct = done * 100 / total
	}
	fill = max(0, min(fill, width))
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %d/%d", b.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, done, total)
	b.drawn = true
}

// done ends the bar's line.
func (b *bar) done() {
	if b != nil && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// bytesProgress returns a callback for the library's import progress
// (packet bytes read of the packet's size), or nil when progress is not
// shown. The bar counts KiB.
func (e *env) bytesProgress(label string) (*bar, func(read, size int64)) {
	b, update := e.progressBar(label)
	if update == nil {
		return nil, nil
	}
	return b, func(read, size int64) { update(int(read>>10), int(size>>10)) }
}
