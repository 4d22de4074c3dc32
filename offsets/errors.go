package offsets

import "errors"

// ErrMalformed wraps every parse error of a position, LSN, GTID set or Seq,
// so callers (the wait API, config) can answer "bad input" without matching
// strings.
var ErrMalformed = errors.New("malformed position")

// ErrEngineMismatch is returned when two positions of different engines are
// compared.
var ErrEngineMismatch = errors.New("positions of different engines")
