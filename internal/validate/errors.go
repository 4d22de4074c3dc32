package validate

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

var driverBadConn = driver.ErrBadConn

// isNetErr reports an error of the connection rather than of the
// statement: a network error, a server that closed the connection, or a
// failed connect (a server restarting answers a new connection with EOF
// before it refuses it).
func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &ce) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
