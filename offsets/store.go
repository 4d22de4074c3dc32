package offsets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // the checkpoint store's engine
)

// Checkpoint is a source's durable state: everything up to Position (Seq)
// is held by the log, so a restart resumes after it.
type Checkpoint struct {
	Position Position
	Seq      Seq
	// SnapshotDone is set once the last snapshot chunk is durable in the log.
	SnapshotDone bool
	// CoversSlot is set by sources that confirm their upstream position
	// (a PostgreSQL slot) only up to a saved checkpoint: the slot never
	// passes Position, so a slot found past it was moved by someone else.
	// Checkpoints saved before this field existed load without it.
	CoversSlot bool
	// SeqScheme records how the source derives Seq from its position, for
	// sources with more than one way (MySQL and MariaDB: "" is the binlog
	// file index and offset, "gtid:D" MariaDB's GTID sequence numbers of
	// domain D; sources/mysql). Checkpoints saved before this field existed
	// load with "".
	SeqScheme string
	// Clean is set on a checkpoint saved at a graceful stop, when the log
	// holds no transaction of the source beyond Position: a restart from
	// it re-sends nothing, so it may change how Seq is derived. The source
	// clears it (saves the checkpoint without it) before it publishes
	// anything.
	Clean     bool
	UpdatedAt time.Time
}

// Store keeps checkpoints in an embedded SQLite database
// (<state_dir>/checkpoints.db). Saves are synchronous: when Save returns,
// the checkpoint survives a crash of the process or the machine. A Store is
// safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// ErrNoCheckpoint is returned by Load for a source never saved.
var ErrNoCheckpoint = errors.New("no checkpoint")

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("checkpoint store: %w", err)
	}
	path := filepath.Join(dir, "checkpoints.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("checkpoint store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS checkpoints (
		source        TEXT PRIMARY KEY,
		position      TEXT NOT NULL,
		seq           TEXT NOT NULL,
		snapshot_done INTEGER NOT NULL DEFAULT 0,
		updated_at    TEXT NOT NULL,
		covers_slot   INTEGER NOT NULL DEFAULT 0,
		seq_scheme    TEXT NOT NULL DEFAULT '',
		clean         INTEGER NOT NULL DEFAULT 0
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint store %s: %w", path, err)
	}
	// Stores written before a column existed get it, with its default for
	// every row.
	for _, col := range []struct{ name, def string }{
		{"covers_slot", "INTEGER NOT NULL DEFAULT 0"},
		{"seq_scheme", "TEXT NOT NULL DEFAULT ''"},
		{"clean", "INTEGER NOT NULL DEFAULT 0"},
	} {
		var has int
		if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('checkpoints') WHERE name = ?`, col.name).Scan(&has); err != nil {
			db.Close()
			return nil, fmt.Errorf("checkpoint store %s: %w", path, err)
		}
		if has == 0 {
			if _, err := db.Exec(`ALTER TABLE checkpoints ADD COLUMN ` + col.name + ` ` + col.def); err != nil {
				db.Close()
				return nil, fmt.Errorf("checkpoint store %s: add %s: %w", path, col.name, err)
			}
		}
	}
	// The sequence scheme each source has used (SeqSchemeUsed), kept
	// across Delete.
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS seq_schemes (
		source TEXT PRIMARY KEY,
		scheme TEXT NOT NULL
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint store %s: %w", path, err)
	}
	// Small per-source state kept beside the checkpoint (SaveNote).
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS notes (
		source TEXT NOT NULL,
		name   TEXT NOT NULL,
		value  BLOB NOT NULL,
		PRIMARY KEY (source, name)
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint store %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// SaveNote durably records value under name for source: state a source
// keeps across restarts beside its checkpoint (the PostgreSQL source's
// partitions of captured partitioned tables). Delete forgets it.
func (s *Store) SaveNote(ctx context.Context, source, name string, value []byte) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO notes (source, name, value) VALUES (?, ?, ?)
		ON CONFLICT (source, name) DO UPDATE SET value = excluded.value`, source, name, value); err != nil {
		return fmt.Errorf("save %s of %s: %w", name, source, err)
	}
	return nil
}

// LoadNote returns what SaveNote recorded under name for source, or nil.
func (s *Store) LoadNote(ctx context.Context, source, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM notes WHERE source = ? AND name = ?`, source, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s of %s: %w", name, source, err)
	}
	return v, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Load returns the checkpoint of source, or ErrNoCheckpoint.
func (s *Store) Load(ctx context.Context, source string) (Checkpoint, error) {
	var pos, seq, at string
	var cp Checkpoint
	err := s.db.QueryRowContext(ctx, `SELECT position, seq, snapshot_done, covers_slot, seq_scheme, clean, updated_at FROM checkpoints WHERE source = ?`, source).
		Scan(&pos, &seq, &cp.SnapshotDone, &cp.CoversSlot, &cp.SeqScheme, &cp.Clean, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, ErrNoCheckpoint
	}
	if err != nil {
		return cp, fmt.Errorf("checkpoint of %s: %w", source, err)
	}
	if cp.Position, err = ParsePosition(pos); err != nil {
		return cp, fmt.Errorf("checkpoint of %s in %s: %w", source, s.path, err)
	}
	if cp.Seq, err = ParseSeq(seq); err != nil {
		return cp, fmt.Errorf("checkpoint of %s in %s: %w", source, s.path, err)
	}
	if cp.UpdatedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return cp, fmt.Errorf("checkpoint of %s in %s: %w: %v", source, s.path, ErrMalformed, err)
	}
	return cp, nil
}

// Save durably records cp for source. A checkpoint never moves backwards:
// saving a Seq below the stored one is refused, since it would make a
// restart replay less than what upstream was told is durable.
func (s *Store) Save(ctx context.Context, source string, cp Checkpoint) error {
	pos, err := cp.Position.MarshalText()
	if err != nil {
		return err
	}
	if cp.UpdatedAt.IsZero() {
		cp.UpdatedAt = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", source, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (source, position, seq, snapshot_done, covers_slot, seq_scheme, clean, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET position = excluded.position, seq = excluded.seq,
			snapshot_done = excluded.snapshot_done, covers_slot = excluded.covers_slot,
			seq_scheme = excluded.seq_scheme, clean = excluded.clean, updated_at = excluded.updated_at
		WHERE excluded.seq >= checkpoints.seq`,
		source, string(pos), cp.Seq.String(), cp.SnapshotDone, cp.CoversSlot, cp.SeqScheme, cp.Clean, cp.UpdatedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", source, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("save checkpoint of %s: %w: %s is below the stored checkpoint", source, ErrBackwards, cp.Seq)
	}
	if cp.SeqScheme != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO seq_schemes (source, scheme) VALUES (?, ?)
			ON CONFLICT (source) DO UPDATE SET scheme = excluded.scheme`, source, cp.SeqScheme); err != nil {
			return fmt.Errorf("save checkpoint of %s: %w", source, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", source, err)
	}
	return nil
}

// SeqSchemeUsed returns the last non-empty Checkpoint.SeqScheme saved for
// source, also after Delete: the log may still hold transactions
// numbered that way, so a source starting without a checkpoint must not
// choose a way that numbers below them. "" when none was saved.
func (s *Store) SeqSchemeUsed(ctx context.Context, source string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT scheme FROM seq_schemes WHERE source = ?`, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sequence scheme of %s: %w", source, err)
	}
	return v, nil
}

// Delete forgets the checkpoint of source and its notes (after a
// rebuild), not the sequence scheme it used (SeqSchemeUsed).
func (s *Store) Delete(ctx context.Context, source string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM notes WHERE source = ?`, source); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM checkpoints WHERE source = ?`, source)
	return err
}

// ErrBackwards is returned when a checkpoint would move backwards.
var ErrBackwards = errors.New("checkpoint would move backwards")

// SourceState is everything the store keeps for one source, as text: what
// a cluster member hands to the next owner of the source (package
// cluster). Its JSON form is stored in Kafka, so a change to it needs a
// migration: fields are only ever added, and absent ones mean what states
// saved before them meant.
type SourceState struct {
	// Checkpoint is nil for a source never saved (or deleted).
	Checkpoint *StoredCheckpoint `json:"checkpoint,omitempty"`
	Notes      map[string][]byte `json:"notes,omitempty"`
	// SeqScheme is SeqSchemeUsed.
	SeqScheme string `json:"seq_scheme,omitempty"`
}

// StoredCheckpoint is a Checkpoint in the text the store keeps it in.
type StoredCheckpoint struct {
	Position     string `json:"position"`
	Seq          string `json:"seq"`
	SnapshotDone bool   `json:"snapshot_done,omitempty"`
	CoversSlot   bool   `json:"covers_slot,omitempty"`
	SeqScheme    string `json:"seq_scheme,omitempty"`
	Clean        bool   `json:"clean,omitempty"`
	UpdatedAt    string `json:"updated_at"`
}

// Export returns what the store holds for source.
func (s *Store) Export(ctx context.Context, source string) (SourceState, error) {
	var st SourceState
	var cp StoredCheckpoint
	err := s.db.QueryRowContext(ctx, `SELECT position, seq, snapshot_done, covers_slot, seq_scheme, clean, updated_at FROM checkpoints WHERE source = ?`, source).
		Scan(&cp.Position, &cp.Seq, &cp.SnapshotDone, &cp.CoversSlot, &cp.SeqScheme, &cp.Clean, &cp.UpdatedAt)
	switch {
	case err == nil:
		st.Checkpoint = &cp
	case !errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("export %s: %w", source, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, value FROM notes WHERE source = ?`, source)
	if err != nil {
		return st, fmt.Errorf("export %s: %w", source, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v []byte
		if err := rows.Scan(&name, &v); err != nil {
			return st, fmt.Errorf("export %s: %w", source, err)
		}
		if st.Notes == nil {
			st.Notes = map[string][]byte{}
		}
		st.Notes[name] = v
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("export %s: %w", source, err)
	}
	if st.SeqScheme, err = s.SeqSchemeUsed(ctx, source); err != nil {
		return st, err
	}
	return st, nil
}

// Import replaces what the store holds for source with st, in one
// transaction. A checkpoint whose position or sequence does not parse is
// refused (ErrMalformed) and nothing changes.
func (s *Store) Import(ctx context.Context, source string, st SourceState) error {
	if cp := st.Checkpoint; cp != nil {
		if _, err := ParsePosition(cp.Position); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
		if _, err := ParseSeq(cp.Seq); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, cp.UpdatedAt); err != nil {
			return fmt.Errorf("import %s: %w: %v", source, ErrMalformed, err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("import %s: %w", source, err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM checkpoints WHERE source = ?`, `DELETE FROM notes WHERE source = ?`, `DELETE FROM seq_schemes WHERE source = ?`} {
		if _, err := tx.ExecContext(ctx, q, source); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
	}
	if cp := st.Checkpoint; cp != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (source, position, seq, snapshot_done, covers_slot, seq_scheme, clean, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, source, cp.Position, cp.Seq, cp.SnapshotDone, cp.CoversSlot, cp.SeqScheme, cp.Clean, cp.UpdatedAt); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
	}
	for name, v := range st.Notes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (source, name, value) VALUES (?, ?, ?)`, source, name, v); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
	}
	if st.SeqScheme != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO seq_schemes (source, scheme) VALUES (?, ?)`, source, st.SeqScheme); err != nil {
			return fmt.Errorf("import %s: %w", source, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import %s: %w", source, err)
	}
	return nil
}
