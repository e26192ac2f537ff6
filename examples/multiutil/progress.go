package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/multisite-go/multisite"

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
// (rows exported, or rows and bytes imported, with rate and time left, drawn by
// github.com/schollz/progressbar to the terminal's width), then the
// commit, as a spinner with the time it has taken, until done is called.
// An import's bar counts rows and bytes of the uncompressed stream
// (importProgress). The library calls Progress and OnProgress from one
// goroutine at a time; done is called once the operation returned.
type bar struct {
	w     io.Writer
	label string
	unit  string // what the work bar counts, for an export: "rows"
	mu    sync.Mutex
	work  *progressbar.ProgressBar
	spin  *progressbar.ProgressBar
	stop  chan struct{}
	wg    sync.WaitGroup

	started time.Time // an import's first report, for the stream's rate
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

// importProgress returns a bar for an import or a creation and the
// callback for the library's OnProgress option, or nil, nil when progress
// is not shown. The bar counts the rows applied and the bytes of the
// uncompressed stream decoded, with their rate; its length, percentage
// and time left follow the packet bytes read against the packet's size
// (a spinner when the size is unknown); the commit is a phase of its own.
func (e *env) importProgress(label string) (*bar, func(multisite.ImportProgress)) {
	if !e.progress {
		return nil, nil
	}
	b := &bar{w: e.stderr, label: shorten(e.stderr, label)}
	return b, b.importUpdate
}

// shorten cuts label to leave the bar, counts, rate and time left room on
// one line of w's terminal (a quarter of it at most, 20 columns if w is
// not a terminal): a line that wraps is drawn anew on every update.
func shorten(w io.Writer, label string) string {
	limit := max(12, columns(w)/4)
	r := []rune(label)
	if len(r) <= limit {
		return label
	}
	return string(r[:limit-1]) + "…"
}

// columns is the width of w's terminal, or 80 if w is not a terminal
// (the width progressbar draws a full-width bar to then).
func columns(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 80
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
	return append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(b.unit))
}

// importOptions are the work bar's options for an import: the counts are
// in the description, so the bar's own count (packet bytes) is not shown.
func (b *bar) importOptions() []progressbar.Option {
	return []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.label),
		progressbar.OptionFullWidth(),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	}
}

// importUpdate draws an import's progress: rows and stream bytes in the
// description, the packet bytes read as the bar, then the commit phase.
func (b *bar) importUpdate(p multisite.ImportProgress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spin != nil {
		return // committing already
	}
	if b.work == nil {
		max := p.PacketSize
		if max <= 0 {
			max = -1 // size unknown: a spinner
		}
		b.started = time.Now()
		b.work = progressbar.NewOptions64(max, b.importOptions()...)
	}
	if !b.work.IsFinished() { // drawn again, a finished bar would repeat its last line
		b.work.Describe(b.label + " " + importCounts(p, time.Since(b.started), columns(b.w) >= 80))
		b.work.Set64(p.PacketBytes)
	}
	if p.Phase == multisite.ProgressCommit {
		b.startCommit()
	}
}

// importCounts is "1,234 rows, 5.6 MiB" (the uncompressed stream), with
// the stream's rate after elapsed if rate is set.
func importCounts(p multisite.ImportProgress, elapsed time.Duration, rate bool) string {
	s := fmt.Sprintf("%s rows, %s", thousands(int64(p.Rows)), iec(float64(p.Bytes)))
	if rate && elapsed > 0 {
		s += fmt.Sprintf(" (%s/s)", iec(float64(p.Bytes)/elapsed.Seconds()))
	}
	return s
}

// iec formats a number of bytes in IEC units: 512 B, 1.5 KiB, 12.0 MiB.
func iec(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	i := 0
	for n >= unit && i < 4 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, "KMGT"[i-1])
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
