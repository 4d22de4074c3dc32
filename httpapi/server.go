package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/walship/walship/sources"
)

// Readiness reports whether the daemon is ready and, if not, which
// components are not.
type Readiness interface {
	Ready() (bool, []string)
}

// Server is the operations HTTP server.
type Server struct {
	log   *slog.Logger
	srv   *http.Server
	ready Readiness
	mon   *Monitor
	token string
}

// New builds a server for listen (host:port) that exposes reg, and, when
// mon is not nil, the status and wait APIs. Every endpoint reads, except
// POST /api/v1/sinks/{name}/pause and /resume, which need token as a
// bearer token; with token empty they answer 403. With pprof set it also
// serves Go's runtime profiles under /debug/pprof/.
func New(listen, token string, pprof bool, log *slog.Logger, reg *prometheus.Registry, ready Readiness, mon *Monitor) *Server {
	s := &Server{log: log, ready: ready, mon: mon, token: token}
	mux := http.NewServeMux()
	if mon != nil {
		mux.HandleFunc("GET /api/v1/status", s.status)
		mux.HandleFunc("GET /api/v1/history", s.history)
		mux.HandleFunc("GET /api/v1/sinks/{name}/wait", s.owned("sink", s.wait))
		mux.HandleFunc("POST /api/v1/sinks/{name}/pause", s.authorized(s.owned("sink", func(w http.ResponseWriter, r *http.Request) { s.setPaused(w, r, true) })))
		mux.HandleFunc("POST /api/v1/sinks/{name}/resume", s.authorized(s.owned("sink", func(w http.ResponseWriter, r *http.Request) { s.setPaused(w, r, false) })))
		mux.HandleFunc("POST /api/v1/sources/{name}/snapshots", s.authorized(s.owned("source", s.snapshot)))
		mux.HandleFunc("POST /api/v1/sources/{name}/snapshots/{id}/{action}", s.authorized(s.owned("source", s.controlSnapshot)))
		mux.Handle("GET /", Dashboard())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if pprof {
		mux.HandleFunc("GET /debug/pprof/", httppprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slogAdapter{log}}))
	s.srv = &http.Server{
		Addr: listen,
		// No endpoint takes a body: a request's body is at most 64 KiB.
		Handler:           http.MaxBytesHandler(mux, 64<<10),
		ReadHeaderTimeout: ReadHeaderTimeout,
		// The whole request, body included: a body sent a byte a second
		// no longer holds a connection open (writes are not bounded: the
		// wait API and profiles answer late by design).
		ReadTimeout: ReadTimeout,
		IdleTimeout: IdleTimeout,
	}
	return s
}

// The server's timeouts: for a request's headers, for the whole request
// with its body, and for an idle keep-alive connection.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// authorized guards an endpoint that changes state.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	type problem struct {
		Error string `json:"error"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.token == "" {
			s.writeJSON(w, http.StatusForbidden, problem{"endpoints that change state are off: set http.token (or http.token_file) to enable them"})
			return
		}
		// The scheme is case-insensitive (RFC 9110 §11.1).
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="walship"`)
			s.writeJSON(w, http.StatusUnauthorized, problem{"a valid bearer token is required"})
			return
		}
		h(w, r)
	}
}

func (s *Server) setPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	type problem struct {
		Error string `json:"error"`
	}
	name := r.PathValue("name")
	switch err := s.mon.SetPaused(name, paused); {
	case errors.Is(err, ErrNoSink):
		s.writeJSON(w, http.StatusNotFound, problem{fmt.Sprintf("no sink named %q", name)})
	case err != nil:
		s.writeJSON(w, http.StatusConflict, problem{err.Error()})
	default:
		s.log.Info("sink pause changed over the API", "sink", name, "paused", paused, "remote", r.RemoteAddr)
		s.writeJSON(w, http.StatusOK, map[string]any{"sink": name, "paused": paused})
	}
}

// snapshot starts an incremental snapshot: a JSON body {"tables":
// ["schema.table", ...], "where": "condition", "delete_unseen": bool}
// (or {"all": true, ...} for every table captured); 202 with its id.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	type problem struct {
		Error string `json:"error"`
	}
	name := r.PathValue("name")
	var req sources.BackfillRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.writeJSON(w, http.StatusBadRequest, problem{"the body must be JSON: {\"tables\": [\"schema.table\", ...], \"where\": \"condition\", \"delete_unseen\": false} or {\"all\": true}: " + err.Error()})
		return
	}
	id, err := s.mon.Backfill(r.Context(), name, req)
	if s.snapshotRefused(w, name, err) {
		return
	}
	s.log.Info("incremental snapshot requested over the API", "source", name, "id", id, "tables", strings.Join(req.Tables, ","), "remote", r.RemoteAddr)
	s.writeJSON(w, http.StatusAccepted, map[string]any{"source": name, "id": id, "tables": req.Tables})
}

// snapshotRefused answers err of an incremental snapshot request of
// source name, and reports whether there was one.
func (s *Server) snapshotRefused(w http.ResponseWriter, name string, err error) bool {
	type problem struct {
		Error string `json:"error"`
	}
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrUnknownSource):
		s.writeJSON(w, http.StatusNotFound, problem{fmt.Sprintf("no source named %q", name)})
	case errors.Is(err, ErrNoBackfill):
		s.writeJSON(w, http.StatusConflict, problem{fmt.Sprintf("source %s: %v", name, err)})
	case errors.Is(err, sources.ErrBackfillRefused):
		s.writeJSON(w, http.StatusBadRequest, problem{err.Error()})
	default:
		s.writeJSON(w, http.StatusServiceUnavailable, problem{err.Error()})
	}
	return true
}

// controlSnapshot pauses, resumes or cancels an incremental snapshot.
func (s *Server) controlSnapshot(w http.ResponseWriter, r *http.Request) {
	name, id, action := r.PathValue("name"), r.PathValue("id"), r.PathValue("action")
	if s.snapshotRefused(w, name, s.mon.ControlBackfill(r.Context(), name, id, action)) {
		return
	}
	s.log.Info("incremental snapshot changed over the API", "source", name, "id", id, "action", action, "remote", r.RemoteAddr)
	s.writeJSON(w, http.StatusOK, map[string]any{"source": name, "id": id, "action": action})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ok, not := s.ready.Ready()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(not, ", "))
		return
	}
	fmt.Fprintln(w, "ready")
}

// Run listens and serves until ctx is done, then shuts down gracefully. It
// calls ready once the listener is bound. It fits supervise.RunFunc.
func (s *Server) Run(ctx context.Context, ready func()) error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", s.srv.Addr, err)
	}
	s.log.Info("http server listening", "addr", ln.Addr().String())
	ready()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	return nil
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.log.Debug("write response", "err", err)
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.mon.Status())
}

// history answers GET /api/v1/history[?since=RFC3339 time].
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since must be an RFC 3339 time"})
			return
		}
		since = t
	}
	s.writeJSON(w, http.StatusOK, s.mon.History(since))
}

// maxWait bounds a wait's timeout.
const maxWait = 10 * time.Minute

// wait answers GET /api/v1/sinks/{name}/wait?position=P[&source=S][&timeout=D]:
// 200 once the sink applied P; 408 with the applied position at the
// timeout (default 30s); 400 for a malformed request; 404 for an unknown
// sink or source.
// owned makes h answer only on the cluster member that runs the
// component (kind "sink" or "source", named by the path's {name}): the
// others redirect there (307, which keeps the method and the body), or
// answer 503 when no member runs it now. Outside cluster mode h answers.
func (s *Server) owned(kind string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var where *ElsewhereError
		if err := s.mon.Owner(r.Context(), kind+"/"+r.PathValue("name")); errors.As(err, &where) {
			if where.Advertise == "" {
				s.writeJSON(w, http.StatusServiceUnavailable, struct {
					Error string `json:"error"`
				}{err.Error()})
				return
			}
			http.Redirect(w, r, "http://"+where.Advertise+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		h(w, r)
	}
}

func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	type problem struct {
		Error string `json:"error"`
	}
	pos := q.Get("position")
	if pos == "" {
		s.writeJSON(w, http.StatusBadRequest, problem{"the position parameter is required (an LSN such as 0/16B3748, or a GTID set)"})
		return
	}
	timeout := 30 * time.Second
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > maxWait {
			s.writeJSON(w, http.StatusBadRequest, problem{fmt.Sprintf("timeout %q is not a duration from 1ms to %s", t, maxWait)})
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, err := s.mon.Wait(ctx, r.PathValue("name"), q.Get("source"), pos)
	switch {
	case err == nil:
		s.writeJSON(w, http.StatusOK, res)
	case errors.Is(err, ErrNoSink), errors.Is(err, ErrNoSource):
		s.writeJSON(w, http.StatusNotFound, problem{err.Error()})
	case errors.Is(err, ErrBadRequest):
		s.writeJSON(w, http.StatusBadRequest, problem{err.Error()})
	case errors.Is(err, context.DeadlineExceeded):
		s.writeJSON(w, http.StatusRequestTimeout, res)
	default: // the client went away
		s.writeJSON(w, http.StatusServiceUnavailable, problem{err.Error()})
	}
}

// slogAdapter lets promhttp report errors through slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.log.Error("metrics: " + fmt.Sprint(v...)) }
