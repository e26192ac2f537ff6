package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
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

// bar shows one long operation on stderr in two phases: the work itself
// (rows exported, or packet bytes read, with rate and time left, drawn by
// github.com/schollz/progressbar to the terminal's width), then the
// commit, as a spinner with the time it has taken, until done is called.
// The library calls Progress from one goroutine at a time; done is called
// once the operation returned.
type bar struct {
	w     io.Writer
	label string
	unit  string // "rows" or "" for bytes
	mu    sync.Mutex
	work  *progressbar.ProgressBar
	spin  *progressbar.ProgressBar
	stop  chan struct{}
	wg    sync.WaitGroup
}

// progressBar returns a bar counting rows and the callback for the
// library's Progress options, or nil, nil (no callbacks at all) when
// progress is not shown.
func (e *env) progressBar(label string) (*bar, func(done, total int)) {
	if !e.progress {
		return nil, nil
	}
	b := &bar{w: e.stderr, label: shorten(e.stderr, label), unit: "rows"}
	return b, func(done, total int) { b.update(int64(done), int64(total)) }
}

// bytesProgress returns a bar for the library's import progress: bytes of
// the packet read, of the packet's size (the packet as it travels, so
// compressed when the packet is), or nil, nil when progress is not shown.
func (e *env) bytesProgress(label string) (*bar, func(read, size int64)) {
	if !e.progress {
		return nil, nil
	}
	b := &bar{w: e.stderr, label: shorten(e.stderr, label)}
	return b, b.update
}

// shorten cuts label to leave the bar, counts, rate and time left room on
// one line of w's terminal (a quarter of it at most, 40 columns if w is
// not a terminal): a line that wraps is drawn anew on every update.
func shorten(w io.Writer, label string) string {
	limit := max(12, columns(w)/4)
	r := []rune(label)
	if len(r) <= limit {
		return label
	}
	return string(r[:limit-1]) + "…"
}

// columns is the width of w's terminal, or 160 if w is not a terminal.
func columns(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 160
}

func (b *bar) options(max int64) []progressbar.Option {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.label),
		progressbar.OptionFullWidth(),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	}
	if columns(b.w) >= 80 { // on a narrow terminal the counts would wrap the line
		opts = append(opts, progressbar.OptionShowCount())
	}
	if b.unit == "" {
		// The rate in bytes a second comes with ShowBytes.
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(b.unit))
	}
	return opts
}

func (b *bar) update(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spin != nil {
		return // committing already
	}
	if b.work == nil {
		max := total
		if max <= 0 {
			max = -1 // size unknown: a spinner with counts and rate
		}
		b.work = progressbar.NewOptions64(max, b.options(max)...)
	}
	b.work.Set64(done)
	if total > 0 && done >= total {
		b.startCommit()
	}
}

// startCommit ends the work bar and spins until done: the transaction's
// commit (and, for an export, the rest of the packet) takes time of its
// own that no count measures.
func (b *bar) startCommit() {
	b.work.Finish()
	b.spin = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.label+": commit"),
		progressbar.OptionFullWidth(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	b.stop = make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.mu.Lock()
				b.spin.Add(1)
				b.mu.Unlock()
			}
		}
	}()
}

// done ends the bar once the operation returned.
func (b *bar) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	stop := b.stop
	b.mu.Unlock()
	if stop != nil {
		close(stop)
		b.wg.Wait()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.spin != nil:
		b.spin.Finish()
	case b.work != nil:
		b.work.Finish()
	}
}
