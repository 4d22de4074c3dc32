package faultproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo starts a line echo server.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestModes(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if s, err := roundTrip(c, r, 2*time.Second); err != nil || s != "ping\n" {
		t.Fatalf("pass: %q %v", s, err)
	}

	p.Set(Stall, 0)
	if _, err := roundTrip(c, r, 300*time.Millisecond); err == nil {
		t.Fatal("stall: the echo came through")
	}
	p.Set(Pass, 0) // the held bytes go through, in order
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if s, err := r.ReadString('\n'); err != nil || s != "ping\n" {
		t.Fatalf("after the stall: %q %v", s, err)
	}

	p.Set(Delay, 200*time.Millisecond)
	start := time.Now()
	if s, err := roundTrip(c, r, 2*time.Second); err != nil || s != "ping\n" {
		t.Fatalf("delay: %q %v", s, err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("delay: the round trip took %s", time.Since(start))
	}
	p.Set(Pass, 0)

	if n := p.Reset(); n != 1 {
		t.Fatalf("reset dropped %d connections", n)
	}
	if _, err := roundTrip(c, r, time.Second); err == nil {
		t.Fatal("the connection survived a reset")
	}

	p.Set(Refuse, 0)
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		c2.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("refuse: a connection was served")
		}
		c2.Close()
	}
	p.Set(Pass, 0)
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if s, err := roundTrip(c3, bufio.NewReader(c3), 2*time.Second); err != nil || s != "ping\n" {
		t.Fatalf("pass again: %q %v", s, err)
	}
	if n := p.Cut(); n != 1 {
		t.Errorf("cut dropped %d connections", n)
	}
	st := p.Stats()
	if st.Accepted != 2 || st.Reset != 1 || st.Cut != 1 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
}
