package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
}

// New builds a server for listen (host:port) that exposes reg.
func New(listen string, log *slog.Logger, reg *prometheus.Registry, ready Readiness) *Server {
	s := &Server{log: log, ready: ready}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slogAdapter{log}}))
	s.srv = &http.Server{
		Addr:              listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	return s
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

// slogAdapter lets promhttp report errors through slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.log.Error("metrics: " + fmt.Sprint(v...)) }
