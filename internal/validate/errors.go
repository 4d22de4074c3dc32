package validate

import (
	"database/sql/driver"
	"errors"
	"net"
)

var driverBadConn = driver.ErrBadConn

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}
