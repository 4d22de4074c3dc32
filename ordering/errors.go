package ordering

import "errors"

// ErrMalformed wraps every error of decoding a log record: a record that
// does not decode is never skipped, the caller stops on it.
var ErrMalformed = errors.New("malformed log record")
