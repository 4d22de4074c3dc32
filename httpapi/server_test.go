package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/supervise"
)

type fakeSink struct {
	st     sinks.Status
	paused bool
}

func (f *fakeSink) Status() sinks.Status     { s := f.st; s.OperatorPaused = f.paused; return s }
func (f *fakeSink) Changed() <-chan struct{} { return make(chan struct{}) }
func (f *fakeSink) Pause()                   { f.paused = true }
func (f *fakeSink) Resume()                  { f.paused = false }

type allReady struct{}

func (allReady) Ready() (bool, []string)    { return true, nil }
func (allReady) Status() []supervise.Status { return nil }

func server(t *testing.T, token string) (*httptest.Server, *fakeSink) {
	sk := &fakeSink{st: sinks.Status{Name: "pgf", State: sinks.StateApplying}}
	mon := NewMonitor("test", map[string]SourceView{}, map[string]SinkView{"pgf": sk}, map[string]offsets.Engine{}, allReady{})
	s := New("127.0.0.1:0", token, false, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), allReady{}, mon)
	ts := httptest.NewServer(s.srv.Handler)
	t.Cleanup(ts.Close)
	return ts, sk
}

func do(t *testing.T, method, url, token string) (int, string) {
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadOnlyByDefault: without http.token every endpoint that changes
// state answers 403, and no endpoint accepts another method than its own.
func TestReadOnlyByDefault(t *testing.T) {
	ts, sk := server(t, "")
	if code, body := do(t, "POST", ts.URL+"/api/v1/sinks/pgf/pause", "anything"); code != 403 || !strings.Contains(body, "http.token") {
		t.Errorf("pause without a configured token: %d %s", code, body)
	}
	if sk.paused {
		t.Error("paused without a token")
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/status"}, {"DELETE", "/api/v1/status"}, {"PUT", "/metrics"}, {"POST", "/api/v1/sinks/pgf/wait"},
	} {
		if code, _ := do(t, c.method, ts.URL+c.path, ""); code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, code)
		}
	}
	if code, _ := do(t, "GET", ts.URL+"/api/v1/status", ""); code != 200 {
		t.Errorf("status: %d", code)
	}
}

// TestPauseNeedsTheToken: with http.token set, pause and resume need it.
func TestPauseNeedsTheToken(t *testing.T) {
	ts, sk := server(t, "s3cret-token")
	for _, tok := range []string{"", "wrong", "s3cret-token-and-more"} {
		if code, _ := do(t, "POST", ts.URL+"/api/v1/sinks/pgf/pause", tok); code != 401 {
			t.Errorf("pause with token %q: %d, want 401", tok, code)
		}
	}
	if code, body := do(t, "POST", ts.URL+"/api/v1/sinks/pgf/pause", "s3cret-token"); code != 200 || !sk.paused {
		t.Fatalf("pause: %d %s", code, body)
	}
	if _, body := do(t, "GET", ts.URL+"/api/v1/status", ""); !strings.Contains(body, `"state": "paused"`) || !strings.Contains(body, `"operator_paused": true`) {
		t.Errorf("status of a paused sink:\n%s", body)
	}
	if code, _ := do(t, "POST", ts.URL+"/api/v1/sinks/nope/pause", "s3cret-token"); code != 404 {
		t.Errorf("unknown sink: %d", code)
	}
	if code, _ := do(t, "POST", ts.URL+"/api/v1/sinks/pgf/resume", "s3cret-token"); code != 200 || sk.paused {
		t.Errorf("resume: %d", code)
	}
}

// TestSlowBodyCut: a request whose body trickles in is cut at the read
// timeout (shortened here), not held open for as long as the client likes;
// a lower-case bearer scheme is accepted.
func TestSlowBodyCut(t *testing.T) {
	sk := &fakeSink{st: sinks.Status{Name: "pgf", State: sinks.StateApplying}}
	mon := NewMonitor("test", map[string]SourceView{}, map[string]SinkView{"pgf": sk}, map[string]offsets.Engine{}, allReady{})
	s := New("127.0.0.1:0", "tok", false, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), allReady{}, mon)
	if s.srv.ReadTimeout != ReadTimeout || s.srv.IdleTimeout != IdleTimeout || s.srv.ReadHeaderTimeout != ReadHeaderTimeout {
		t.Fatalf("timeouts: %v %v %v", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.IdleTimeout)
	}
	ts := httptest.NewUnstartedServer(s.srv.Handler)
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn)
		close(closed)
	}()
	trickle := time.NewTicker(100 * time.Millisecond)
	defer trickle.Stop()
	for open := true; open; {
		select {
		case <-closed:
			open = false
		case <-trickle.C:
			if time.Since(start) > 5*time.Second {
				t.Fatalf("a trickling body held the connection for %v", time.Since(start))
			}
			conn.Write([]byte("x"))
		}
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/sinks/pgf/pause", nil)
	req.Header.Set("Authorization", "bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !sk.paused {
		t.Errorf("lower-case bearer: %d, paused %v", resp.StatusCode, sk.paused)
	}
}
