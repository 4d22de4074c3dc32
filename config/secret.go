package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
)

// Secret is a string that never prints itself. fmt, slog, JSON and YAML all
// see "[redacted]"; code that needs the value calls Reveal.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, so %#v does not leak either.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText implements encoding.TextMarshaler (JSON, slog).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactDSN returns dsn with any password replaced by "[redacted]". It
// understands libpq URLs, libpq key=value strings and go-sql-driver DSNs
// (user:password@tcp(host)/db), so a DSN can be printed in an error.
func RedactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return redacted
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return strings.ReplaceAll(u.String(), "xxxxx", redacted)
	}
	if at := strings.LastIndex(dsn, "@"); at >= 0 && !strings.Contains(dsn[:at], "=") {
		// go-sql-driver: user:password@proto(addr)/db
		cred := dsn[:at]
		if colon := strings.Index(cred, ":"); colon >= 0 {
			return cred[:colon] + ":" + redacted + dsn[at:]
		}
		return dsn
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+redacted)
}

// DSNProblem says, without quoting the DSN (its parse errors can hold the
// password), why a PostgreSQL DSN was refused: a file it names that cannot
// be read (sslrootcert, sslcert, sslkey, passfile), or its syntax.
func DSNProblem(dsn string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("the dsn (%s) names a file that cannot be read: %s: %v", RedactDSN(dsn), pe.Path, pe.Err)
	}
	return fmt.Sprintf("the dsn (%s) is not a libpq URL (postgres://user@host:5432/db) or key=value string", RedactDSN(dsn))
}
