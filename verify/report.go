package verify

import (
	"fmt"
	"io"
	"strings"
)

// Report is the outcome of a verification.
type Report struct {
	Sink       string        `json:"sink"`
	ShowValues bool          `json:"-"`
	Tables     []TableReport `json:"tables"`
}

// TableReport is one source table compared with its follower table.
type TableReport struct {
	Source       string `json:"source"`
	Table        string `json:"table"`    // schema.table at the source
	Follower     string `json:"follower"` // the follower table
	SourceRows   int64  `json:"source_rows"`
	FollowerRows int64  `json:"follower_rows"`
	Missing      int64  `json:"missing"`   // rows only at the source
	Extra        int64  `json:"extra"`     // rows only on the follower
	Different    int64  `json:"different"` // rows whose values differ
	// Chunks counts the key ranges compared by checksum; ChunksDiffered
	// those whose checksums differed, whose rows were compared.
	Chunks         int64  `json:"chunks"`
	ChunksDiffered int64  `json:"chunks_differed"`
	Diffs          []Diff `json:"diffs,omitempty"`
	// Problem is why the table could not be compared in full (a missing
	// follower table or column, keys the engines order differently, an
	// error); it counts as a difference.
	Problem string `json:"problem,omitempty"`
	// Keyless marks a table without a primary key, compared as multisets
	// of rows; its differences are listed by row hash.
	Keyless bool `json:"keyless,omitempty"`
	// Indexes lists the secondary indexes that differ between the source
	// table and the follower table (indexes.go): warnings, not
	// differences.
	Indexes []string `json:"index_warnings,omitempty"`
	// Filtered says what the columns: and where: rules of the sink and
	// its source left out of the comparison (filter.go).
	Filtered []string `json:"filtered,omitempty"`
	// NotCompared: the rules leave nothing to compare the rows by (a
	// hashed key); Filtered says why.
	NotCompared bool `json:"not_compared,omitempty"`
}

// Diff is one differing row.
type Diff struct {
	Kind    string    `json:"kind"` // missing, extra, different
	Key     string    `json:"key"`  // primary key: col=value, ...
	Columns []ColDiff `json:"columns,omitempty"`
}

// ColDiff is one differing column; values only with ShowValues.
type ColDiff struct {
	Column   string `json:"column"`
	Source   string `json:"source,omitempty"`
	Follower string `json:"follower,omitempty"`
}

// Equal reports whether the table matched.
func (t TableReport) Equal() bool {
	return t.Problem == "" && t.Missing == 0 && t.Extra == 0 && t.Different == 0
}

// Differences counts differing rows and problems over every table.
func (r *Report) Differences() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Missing + t.Extra + t.Different
		if t.Problem != "" && t.Missing+t.Extra+t.Different == 0 {
			n++
		}
	}
	return n
}

// Print writes the report as text.
func (r *Report) Print(w io.Writer) {
	unequal := 0
	for _, t := range r.Tables {
		head := fmt.Sprintf("%s → %s (source %s)", t.Table, t.Follower, t.Source)
		how := plural(t.Chunks, "chunk")
		if t.Keyless {
			how = "no primary key: compared as multisets of rows, " + plural(t.Chunks, "pass")
		}
		if t.NotCompared {
			fmt.Fprintf(w, "%s: not compared\n", head)
			printIndexes(w, t)
			continue
		}
		if t.Equal() {
			fmt.Fprintf(w, "%s: equal (%d rows, %s)\n", head, t.SourceRows, how)
			printIndexes(w, t)
			continue
		}
		unequal++
		fmt.Fprintf(w, "%s: DIFFERENT: %d missing, %d extra, %d different (%d rows at the source, %d on the follower; chunks %d, %d differed)\n",
			head, t.Missing, t.Extra, t.Different, t.SourceRows, t.FollowerRows, t.Chunks, t.ChunksDiffered)
		if t.Problem != "" {
			fmt.Fprintf(w, "  problem: %s\n", t.Problem)
		}
		for _, d := range t.Diffs {
			switch d.Kind {
			case "different":
				var cols []string
				for _, c := range d.Columns {
					if r.ShowValues {
						cols = append(cols, fmt.Sprintf("%s (source %s, follower %s)", c.Column, c.Source, c.Follower))
					} else {
						cols = append(cols, c.Column)
					}
				}
				fmt.Fprintf(w, "  %-9s %s: %s\n", d.Kind, d.Key, strings.Join(cols, "; "))
			default:
				var vals []string
				for _, c := range d.Columns {
					vals = append(vals, c.Column+"="+c.Source+c.Follower)
				}
				if len(vals) > 0 {
					fmt.Fprintf(w, "  %-9s %s: %s\n", d.Kind, d.Key, strings.Join(vals, ", "))
				} else {
					fmt.Fprintf(w, "  %-9s %s\n", d.Kind, d.Key)
				}
			}
		}
		if listed := int64(len(t.Diffs)); listed < t.Missing+t.Extra+t.Different {
			fmt.Fprintf(w, "  ... %d more\n", t.Missing+t.Extra+t.Different-listed)
		}
		printIndexes(w, t)
	}
	if unequal == 0 {
		fmt.Fprintf(w, "sink %s: equal: %d tables\n", r.Sink, len(r.Tables))
		return
	}
	note := ""
	if !r.ShowValues {
		note = " (values redacted; --show-values shows them)"
	}
	fmt.Fprintf(w, "sink %s: %d differences in %d of %d tables%s\n", r.Sink, r.Differences(), unequal, len(r.Tables), note)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printIndexes writes t's index warnings and its filter notes.
func printIndexes(w io.Writer, t TableReport) {
	for _, n := range t.Indexes {
		fmt.Fprintf(w, "  warning: %s\n", n)
	}
	for _, n := range t.Filtered {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
