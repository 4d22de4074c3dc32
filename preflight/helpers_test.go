package preflight

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
)

// runCheck runs Check on cfg, logs the printed report, and fails the test
// if any of secrets appears in the printed report or in its %+v form.
func runCheck(t *testing.T, cfg *config.Config, secrets ...string) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := Check(ctx, cfg)
	var buf bytes.Buffer
	if err := rep.Print(&buf); err != nil {
		t.Fatalf("Print: %v", err)
	}
	t.Logf("report:\n%s", buf.String())
	all := buf.String() + fmt.Sprintf("%+v", rep)
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("secret %q appears in the report", s)
		}
	}
	return rep
}

// only returns the single result of rep.
func only(t *testing.T, rep Report) Result {
	t.Helper()
	if len(rep.Results) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(rep.Results), rep)
	}
	return rep.Results[0]
}

// wantProblem fails unless res has a problem with code whose message
// contains every one of parts.
func wantProblem(t *testing.T, res Result, code Code, parts ...string) Problem {
	t.Helper()
	for _, p := range res.Problems {
		if p.Code != code {
			continue
		}
		ok := true
		for _, s := range parts {
			ok = ok && strings.Contains(p.Msg, s)
		}
		if ok {
			return p
		}
	}
	t.Errorf("%s: no %s problem containing %q; problems: %+v", res.Target, code, parts, res.Problems)
	return Problem{}
}

// wantNoProblems fails if res has any problem.
func wantNoProblems(t *testing.T, res Result) {
	t.Helper()
	for _, p := range res.Problems {
		t.Errorf("%s: unexpected %s problem: %s", res.Target, p.Code, p.Msg)
	}
}

// wantFact fails unless res verified a fact containing s.
func wantFact(t *testing.T, res Result, s string) {
	t.Helper()
	for _, f := range res.OK {
		if strings.Contains(f, s) {
			return
		}
	}
	t.Errorf("%s: no fact containing %q; facts: %q", res.Target, s, res.OK)
}

// suffix returns a random suffix for names on the shared servers.
func suffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// closedAddr returns 127.0.0.1:port with nothing listening on it.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentAddr returns the address of a listener that accepts connections
// and never answers, like a hung server; it stops when the test ends.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	return l.Addr().String()
}
