package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// netProblem classifies err as a network failure to reach addr. It returns
// false when err is not a network failure or timeout. The message is built
// from the classified cause only, never from err's text, which may carry
// the driver's view of the DSN.
func netProblem(err error, addr, what string) (Problem, bool) {
	const fix = "check the address in %s, that the server is running, and that it accepts TCP connections from this host (bind address, firewall)"
	var (
		dnsErr *net.DNSError
		netErr net.Error
		opErr  *net.OpError
	)
	cause := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Problem{Unreachable, "no answer from " + addr + " before the timeout: check that " + what +
			" names the right server and port, and that the server is up, not overloaded, and reachable from this host (firewall)"}, true
	case errors.Is(err, context.Canceled):
		return Problem{Unreachable, "the check of " + addr + " was cancelled before the server answered"}, true
	case errors.As(err, &dnsErr):
		cause = "the host name " + strconv.Quote(dnsErr.Name) + " does not resolve"
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			cause = "the host name " + strconv.Quote(dnsErr.Name) + " could not be resolved (DNS failure)"
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		cause = "connection refused: nothing listens on that port"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		cause = "no route to the host"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		cause = "the connection was reset by the server or a proxy"
	case errors.Is(err, os.ErrNotExist): // unix socket path
		cause = "the socket does not exist"
	case errors.As(err, &opErr):
		cause = "network error: " + opErr.Op
		var sysErr *os.SyscallError
		if errors.As(opErr.Err, &sysErr) {
			cause += ": " + sysErr.Err.Error()
		}
	default:
		return Problem{}, false
	}
	return Problem{Unreachable, "cannot connect to " + addr + ": " + cause + ": " + fmt.Sprintf(fix, what)}, true
}
