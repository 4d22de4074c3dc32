// Package config loads walship's YAML configuration file.
//
// Contract:
//   - Decoding is strict. An unknown key, a value of the wrong type, a
//     duplicate source or sink name, a sink whose from names no source, a
//     missing required key or an out-of-range value is an Error carrying the
//     file, the line and the key path. Every problem in the file is
//     reported, not just the first (Errors); errors.Is(err, ErrInvalid).
//   - ${NAME} in any value is replaced by the environment variable NAME; an
//     unset variable is an error naming it. $${ is a literal ${.
//   - Every password_file key is read at load time and its content, without
//     a trailing newline, becomes the password. Secrets are held as Secret,
//     which prints as "[redacted]" through fmt, slog, JSON and YAML, and no
//     error message ever contains a secret's value. RedactDSN makes a DSN
//     safe to print.
//   - Absent keys take the defaults documented on each field.
//
// The package only reads files; it never connects to a server (see
// package preflight for that).
package config
