package replay

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/walship/walship/sinks"
)

// reportProgress prints a progress line on w every second (a bar when w
// is a terminal).
func reportProgress(ctx context.Context, w io.Writer, sink *sinks.Sink, srcs []*source, pr *progress, start time.Time) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastRows int64
	last := start
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return
		case now := <-tick.C:
			st := sink.Status()
			var total, done, startRead int64
			pr.mu.Lock()
			for _, s := range srcs {
				if !s.exists {
					continue
				}
				total += s.end - s.first
				if r, ok := pr.read[s.name]; ok {
					done += min(r, s.end) - s.first
					startRead += pr.first[s.name] - s.first
				}
			}
			pr.mu.Unlock()
			rate := float64(st.AppliedChanges-lastRows) / now.Sub(last).Seconds()
			lastRows, last = st.AppliedChanges, now
			pct, eta := 100.0, "-"
			if total > 0 {
				pct = 100 * float64(done) / float64(total)
				if el := now.Sub(start).Seconds(); done > startRead && el > 0 {
					secs := float64(total-done) / (float64(done-startRead) / el)
					eta = (time.Duration(secs) * time.Second).String()
				}
			}
			line := fmt.Sprintf("replay %s: %d transactions, %d rows applied, %.0f rows/s, log %.1f%% read, ETA %s",
				st.Name, st.AppliedTxns, st.AppliedChanges, rate, pct, eta)
			if tty {
				n := int(pct / 5)
				fmt.Fprintf(w, "\r[%s%s] %s\x1b[K", strings.Repeat("#", n), strings.Repeat(" ", 20-n), line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}
