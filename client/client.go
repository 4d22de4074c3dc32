// Package client lets applications read their own writes through walship:
// after a write on the source, an application takes the source position of
// its commit (PostgreSQL: SELECT pg_current_wal_lsn(); MySQL/MariaDB: the
// GTID set, @@gtid_executed or @@gtid_binlog_pos) and waits until a sink
// has applied it before reading from that sink's follower.
//
// It talks to the daemon's HTTP API (GET /api/v1/sinks/{name}/wait); each
// wait costs the daemon no polling of the follower.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ErrTimeout is returned when the sink had not applied the position when
// the wait ended; Applied in the *TimeoutError says where it was.
var ErrTimeout = errors.New("walship: position not applied before the timeout")

// TimeoutError reports the sink's applied position at the timeout.
type TimeoutError struct {
	Sink, Applied, Target string
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("walship: sink %s applied %s, not yet %s", e.Sink, e.Applied, e.Target)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Client calls one walship daemon.
type Client struct {
	// Base is the daemon's HTTP address, e.g. http://127.0.0.1:8080.
	Base string
	// HTTP is the client used. Default: http.DefaultClient.
	HTTP *http.Client
}

// New returns a client for the daemon at base.
func New(base string) *Client { return &Client{Base: base} }

// WaitFor returns once sink has applied position (of the sink's only
// source), or ctx ends. The wait's timeout is ctx's deadline (30s without
// one), less a reserve for the daemon's answer (a fifth, at most 2s), so a
// timeout normally reports the sink's applied position; an error wrapping
// *TimeoutError is returned either way (errors.Is(err, ErrTimeout)).
func (c *Client) WaitFor(ctx context.Context, sink, position string) error {
	return c.WaitForSource(ctx, sink, "", position)
}

// WaitForSource is WaitFor for a sink that applies several sources.
func (c *Client) WaitForSource(ctx context.Context, sink, source, position string) error {
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
		if timeout <= 0 {
			return ctx.Err()
		}
		// The daemon answers a timed-out wait with the applied position;
		// leave its answer time to arrive before ctx ends.
		timeout -= min(max(timeout/5, 20*time.Millisecond), 2*time.Second)
		if timeout <= 0 {
			timeout = time.Millisecond
		}
	}
	q := url.Values{"position": {position}, "timeout": {timeout.String()}}
	if source != "" {
		q.Set("source", source)
	}
	u := c.Base + "/api/v1/sinks/" + url.PathEscape(sink) + "/wait?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The answer did not arrive in time: still a timeout, with the
			// applied position unknown.
			return fmt.Errorf("%w: %w", &TimeoutError{Sink: sink, Applied: "unknown", Target: position}, err)
		}
		return fmt.Errorf("walship: wait: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Reached bool   `json:"reached"`
		Applied string `json:"applied"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("walship: wait: %s: %w", resp.Status, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.Reached:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout:
		return &TimeoutError{Sink: sink, Applied: body.Applied, Target: position}
	default:
		return fmt.Errorf("walship: wait: %s: %s", resp.Status, body.Error)
	}
}
