package config

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a config file, with where it is.
type Error struct {
	File   string // path of the config file
	Line   int    // 1-based; 0 when the problem has no single place
	Column int
	Key    string // the offending key as a path, e.g. sources[1].postgres.slot
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config file, in file order. Load
// returns it (as error) whenever the file is not valid.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("invalid config (%d problem(s)):\n  %s", len(es), strings.Join(lines, "\n  "))
}

// ErrInvalid is matched by errors.Is on any Errors value.
var ErrInvalid = errors.New("invalid config")

// Is makes errors.Is(err, ErrInvalid) true for config errors.
func (es Errors) Is(target error) bool { return target == ErrInvalid }
