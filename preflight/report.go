package preflight

import (
	"fmt"
	"io"
	"strings"
)

// Code classifies a Problem by what has to change to fix it.
type Code int

// The problem codes. The zero value is Other.
const (
	// Other is anything not classified below: a failed query, a corrupt file,
	// an error the drivers do not classify.
	Other Code = iota
	// Unreachable: no connection, or no answer before the timeout. Fix the
	// address, start the server or open the network path.
	Unreachable
	// AuthFailed: the server rejected the credentials or the login. Fix the
	// user or password, or the server's authentication rules.
	AuthFailed
	// NotFound: the database, file or directory named does not exist.
	NotFound
	// Setting: a server setting must change (wal_level, binlog_format...).
	Setting
	// Privilege: the user lacks a privilege. Grant it.
	Privilege
	// Version: the server is too old for a needed feature.
	Version
	// Config: the walship config does not match the server (flavor,
	// server_id, a DSN without a database). Fix the config file.
	Config
)

var codeNames = [...]string{
	Other:       "other",
	Unreachable: "unreachable",
	AuthFailed:  "auth-failed",
	NotFound:    "not-found",
	Setting:     "setting",
	Privilege:   "privilege",
	Version:     "version",
	Config:      "config",
}

// String returns the code's short name, such as "auth-failed".
func (c Code) String() string {
	if c < 0 || int(c) >= len(codeNames) {
		return fmt.Sprintf("code(%d)", int(c))
	}
	return codeNames[c]
}

// MarshalText implements encoding.TextMarshaler, so JSON shows the name.
func (c Code) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Problem is one thing that stops walship from working with a target. Msg
// names the cause and the fix, and never contains a secret.
type Problem struct {
	Code Code
	Msg  string
}

// Result is what Check found about one target: a source, a sink or Kafka.
type Result struct {
	// Target names the target as the config does: "source pg-main",
	// "sink replica", "kafka".
	Target string
	// Engine is postgres, mysql, mariadb, sqlite or kafka.
	Engine string
	// Addr is host:port (a socket or file path for local targets; a
	// comma-separated list for Kafka). It never contains a password.
	Addr string
	// OK lists the facts verified, such as "wal_level=logical".
	OK []string
	// Problems lists everything wrong, in the order found.
	Problems []Problem
	// Notes are advice that does not fail the check (walship works, but
	// slower or with a caveat the note names).
	Notes []string
	// captured are a source's captured tables (schema, table), for the
	// checks that need the sinks too.
	captured [][2]string
}

// fact records a verified fact.
func (r *Result) fact(format string, args ...any) {
	r.OK = append(r.OK, fmt.Sprintf(format, args...))
}

// note records advice.
func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// problem records a problem.
func (r *Result) problem(code Code, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Code: code, Msg: fmt.Sprintf(format, args...)})
}

// clone returns a copy of r that shares no slice with it.
func (r Result) clone() Result {
	r.OK = append([]string(nil), r.OK...)
	r.Problems = append([]Problem(nil), r.Problems...)
	r.Notes = append([]string(nil), r.Notes...)
	return r
}

// Report is the outcome of Check: one Result per target, in config order
// (sources, then sinks, then Kafka).
type Report struct {
	Results []Result
}

// OK reports whether no target has a problem.
func (r Report) OK() bool {
	for _, res := range r.Results {
		if len(res.Problems) > 0 {
			return false
		}
	}
	return true
}

// Problems returns the number of problems over all targets.
func (r Report) Problems() int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Problems)
	}
	return n
}

// Print writes the report for a human: one line per problem, then one line
// of verified facts per target, each starting with the target and its
// address, and a summary line last. Example:
//
//	source pg-main (postgres 10.0.0.5:5432): setting: wal_level is replica, need logical: ...
//	source pg-main (postgres 10.0.0.5:5432): verified: PostgreSQL 15.4; ...
//	kafka (kafka 10.0.0.9:9092): ok: 3 brokers; ...
//	1 problem on 1 of 2 targets
func (r Report) Print(w io.Writer) error {
	var b strings.Builder
	bad := 0
	for _, res := range r.Results {
		head := res.Target + " (" + res.Engine
		if res.Addr != "" {
			head += " " + res.Addr
		}
		head += ")"
		for _, p := range res.Problems {
			fmt.Fprintf(&b, "%s: %s: %s\n", head, p.Code, oneLine(p.Msg))
		}
		label := "ok"
		if len(res.Problems) > 0 {
			bad++
			label = "verified"
		}
		if len(res.OK) > 0 || len(res.Problems) == 0 {
			fmt.Fprintf(&b, "%s: %s: %s\n", head, label, oneLine(strings.Join(res.OK, "; ")))
		}
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "%s: note: %s\n", head, oneLine(n))
		}
	}
	switch n := r.Problems(); {
	case len(r.Results) == 0:
		b.WriteString("nothing to check: the config names no source, sink or broker\n")
	case n == 0:
		fmt.Fprintf(&b, "all %s ok\n", plural(len(r.Results), "target"))
	default:
		fmt.Fprintf(&b, "%s on %d of %s\n", plural(n, "problem"), bad, plural(len(r.Results), "target"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a message on one line, whatever a server put in it.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
