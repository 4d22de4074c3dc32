package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/origins"
)

// maxOriginSlots bounds the replication origins of one sink: one per
// session open at once.
const maxOriginSlots = 1024

// ErrOriginPrivilege is wrapped when the follower refuses a sink's
// sessions a replication origin: its role needs the right to use them.
var ErrOriginPrivilege = errors.New("the follower's role may not use replication origins")

// setupOrigin makes conn's session run under a replication origin of
// sink's that no other session uses (PostgreSQL lets an origin be active
// in one session at a time): the first free of walship_<sink>_0, _1, …,
// created when missing. Every transaction the session commits then
// carries it, and pgoutput tells it to the source.
func setupOrigin(ctx context.Context, conn *pgx.Conn, sink string) error {
	for slot := 0; slot < maxOriginSlots; slot++ {
		name := origins.PGName(sink, slot)
		if _, err := conn.Exec(ctx, `SELECT pg_catalog.pg_replication_origin_create($1)
			WHERE pg_catalog.pg_replication_origin_oid($1) IS NULL`, name); err != nil && !isCode(err, "23505") {
			return originError(sink, err)
		}
		_, err := conn.Exec(ctx, `SELECT pg_catalog.pg_replication_origin_session_setup($1)`, name)
		switch {
		case err == nil:
			return nil
		case isCode(err, "55006"): // object_in_use: another session has it
			continue
		default:
			return originError(sink, err)
		}
	}
	return fmt.Errorf("postgres sink %s: all %d replication origins walship_%s_* are in use", sink, maxOriginSlots, sink)
}

func originError(sink string, err error) error {
	if isCode(err, "42501") {
		return fmt.Errorf("postgres sink %s: a source ignores this sink's writes (ignore_writes_of), so its sessions need a replication origin: %w; grant it (GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), pg_replication_origin_session_setup(text) TO the sink's role) or use a superuser", sink, ErrOriginPrivilege)
	}
	return fmt.Errorf("postgres sink %s: set up a replication origin for the session: %w", sink, err)
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
