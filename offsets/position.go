package offsets

import (
	"fmt"
	"strings"
)

// Engine is the kind of source a position belongs to.
type Engine string

// The engines.
const (
	EnginePostgres Engine = "postgres"
	EngineMySQL    Engine = "mysql"
	EngineMariaDB  Engine = "mariadb"
)

// Position is where a transaction sits in its source's log.
//
// PostgreSQL sets LSN (the commit record's LSN) and EndLSN (the end of the
// commit record: what the slot is acknowledged up to). MySQL and MariaDB
// set GTID (the transaction's own id), GTIDs (the executed set including
// this transaction: where a restart resumes) and Binlog (the end of the
// transaction in the binlog).
type Position struct {
	Engine Engine
	LSN    LSN
	EndLSN LSN
	GTID   string
	GTIDs  GTIDSet
	Binlog BinlogPos
}

// PGPosition is a PostgreSQL position.
func PGPosition(commit, end LSN) Position {
	return Position{Engine: EnginePostgres, LSN: commit, EndLSN: end}
}

// IsZero reports whether no position is set.
func (p Position) IsZero() bool { return p.Engine == "" }

// String is a short human form: the LSN for PostgreSQL, the GTID set (and
// file:pos) for MySQL and MariaDB.
func (p Position) String() string {
	switch p.Engine {
	case EnginePostgres:
		return p.LSN.String()
	case EngineMySQL, EngineMariaDB:
		if p.Binlog.IsZero() {
			return p.GTIDs.String()
		}
		return p.GTIDs.String() + " (" + p.Binlog.String() + ")"
	}
	return ""
}

// MarshalText encodes the position as "engine:key=value;key=value". This form
// is stored durably; keep it stable.
func (p Position) MarshalText() ([]byte, error) {
	var parts []string
	switch p.Engine {
	case "":
		return nil, nil
	case EnginePostgres:
		parts = append(parts, "lsn="+p.LSN.String())
		if p.EndLSN != 0 {
			parts = append(parts, "end="+p.EndLSN.String())
		}
	case EngineMySQL, EngineMariaDB:
		if p.GTID != "" {
			parts = append(parts, "gtid="+p.GTID)
		}
		parts = append(parts, "gtids="+p.GTIDs.String())
		if !p.Binlog.IsZero() {
			parts = append(parts, "binlog="+p.Binlog.String())
		}
	default:
		return nil, fmt.Errorf("%w: unknown engine %q", ErrMalformed, p.Engine)
	}
	return []byte(string(p.Engine) + ":" + strings.Join(parts, ";")), nil
}

// UnmarshalText parses what MarshalText wrote.
func (p *Position) UnmarshalText(b []byte) error {
	v, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePosition parses the MarshalText form. The empty string is the zero
// Position.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Position{}, nil
	}
	eng, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, fmt.Errorf("%w: %q has no engine prefix", ErrMalformed, s)
	}
	p := Position{Engine: Engine(eng)}
	switch p.Engine {
	case EnginePostgres, EngineMySQL, EngineMariaDB:
	default:
		return Position{}, fmt.Errorf("%w: unknown engine %q in %q", ErrMalformed, eng, s)
	}
	for _, kv := range strings.Split(rest, ";") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch {
		case k == "lsn" && p.Engine == EnginePostgres:
			p.LSN, err = ParseLSN(v)
		case k == "end" && p.Engine == EnginePostgres:
			p.EndLSN, err = ParseLSN(v)
		case k == "gtid" && p.Engine != EnginePostgres:
			p.GTID = v
		case k == "gtids" && p.Engine != EnginePostgres:
			p.GTIDs, err = ParseGTIDSet(p.flavor(), v)
		case k == "binlog" && p.Engine != EnginePostgres:
			p.Binlog, err = ParseBinlogPos(v)
		default:
			err = fmt.Errorf("%w: unknown field %q in %q", ErrMalformed, k, s)
		}
		if err != nil {
			return Position{}, err
		}
	}
	return p, nil
}

func (p Position) flavor() Flavor {
	if p.Engine == EngineMariaDB {
		return FlavorMariaDB
	}
	return FlavorMySQL
}

// ParseTarget parses a position as a user gives it to the wait API: a
// PostgreSQL LSN ("0/16B3748") or a GTID set of the given flavor, or the
// full MarshalText form.
func ParseTarget(engine Engine, s string) (Position, error) {
	if strings.HasPrefix(s, string(engine)+":") {
		return ParsePosition(s)
	}
	switch engine {
	case EnginePostgres:
		l, err := ParseLSN(s)
		if err != nil {
			return Position{}, err
		}
		return PGPosition(l, l), nil
	case EngineMySQL, EngineMariaDB:
		p := Position{Engine: engine}
		g, err := ParseGTIDSet(p.flavor(), s)
		if err != nil {
			return Position{}, err
		}
		p.GTIDs = g
		return p, nil
	}
	return Position{}, fmt.Errorf("%w: unknown engine %q", ErrMalformed, engine)
}

// Reached reports whether a sink that has applied everything up to p has
// applied target: PostgreSQL compares end LSNs (commit LSN when no end is
// known), MySQL and MariaDB test GTID set containment.
func (p Position) Reached(target Position) (bool, error) {
	if target.IsZero() {
		return true, nil
	}
	if p.IsZero() {
		return false, nil
	}
	if p.Engine != target.Engine {
		return false, fmt.Errorf("%w: %s and %s", ErrEngineMismatch, p.Engine, target.Engine)
	}
	if p.Engine == EnginePostgres {
		return max(p.EndLSN, p.LSN) >= max(target.EndLSN, target.LSN), nil
	}
	return p.GTIDs.Contains(target.GTIDs), nil
}
