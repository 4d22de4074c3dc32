package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// A request to a daemon that is still starting (its API refuses
// connections) is sent again until it listens.
func TestDaemonAPIWaitsForAStartingDaemon(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // refused until the server below starts
	got := make(chan []byte, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got <- b[:n]
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"id":"abc"}`))
	})}
	time.AfterFunc(700*time.Millisecond, func() {
		if l, err := net.Listen("tcp", addr); err == nil {
			srv.Serve(l)
		}
	})
	defer srv.Close()
	d := &daemonAPI{listen: addr, token: "t", hc: &http.Client{Timeout: 5 * time.Second}}
	var answer struct {
		ID string `json:"id"`
	}
	code, err := d.post(context.Background(), "/x", []byte(`{"a":1}`), &answer)
	if err != nil || code != http.StatusAccepted || answer.ID != "abc" {
		t.Fatalf("post: %d %v %+v", code, err, answer)
	}
	if b := <-got; string(b) != `{"a":1}` {
		t.Errorf("the body sent again: %q", b)
	}
}
