package benchkit

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

func pgMsg(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}

func pgStartup(code uint32, body string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	binary.BigEndian.PutUint32(b[4:], code)
	return append(b, body...)
}

func myPacket(seq byte, payload string) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

func TestWireParserCountsStatementsAcrossReads(t *testing.T) {
	var pg []byte
	pg = append(pg, pgStartup(80877103, "")...) // SSLRequest, refused
	pg = append(pg, pgStartup(196608, "user\x00postgres\x00\x00")...)
	pg = append(pg, pgMsg('p', "secret")...)
	pg = append(pg, pgMsg('Q', "BEGIN")...)
	for i := 0; i < 3; i++ { // a pipeline: Parse, Bind, Describe, Execute
		pg = append(pg, pgMsg('P', "\x00UPDATE t SET a = $1\x00\x00\x00")...)
		pg = append(pg, pgMsg('B', "\x00\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00")...)
		pg = append(pg, pgMsg('E', "\x00\x00\x00\x00\x00")...)
	}
	pg = append(pg, pgMsg('S', "")...)
	pg = append(pg, pgMsg('Q', "COMMIT")...)
	var my []byte
	my = append(my, myPacket(1, "handshake response with E and \x03 in it")...)
	my = append(my, myPacket(0, "\x03UPDATE t SET a = 1")...)
	my = append(my, myPacket(0, "\x16SELECT ?")...)         // COM_STMT_PREPARE: not counted
	my = append(my, myPacket(0, "\x17\x01\x00\x00\x00")...) // COM_STMT_EXECUTE
	my = append(my, myPacket(0, "\x0e")...)                 // COM_PING
	for _, c := range []struct {
		mysql bool
		wire  []byte
		want  int64
	}{{false, pg, 5}, {true, my, 2}} {
		for step := 1; step <= len(c.wire); step++ {
			p := &wireParser{mysql: c.mysql, startup: true}
			var got int64
			for i := 0; i < len(c.wire); i += step {
				got += p.feed(c.wire[i:min(i+step, len(c.wire))])
			}
			if got != c.want || p.opaque {
				t.Fatalf("mysql %v, reads of %d bytes: %d statements (opaque %v), want %d", c.mysql, step, got, p.opaque, c.want)
			}
		}
	}
	p := &wireParser{startup: true}
	p.feed([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc}) // a TLS ClientHello
	if !p.opaque {
		t.Error("a TLS stream was parsed")
	}
}

func TestStatementCounterForwards(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.Copy(conn, conn) // echo
	}()
	c, err := CountStatements("mysql", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := append(myPacket(0, "\x03SELECT 1"), myPacket(0, "\x03SELECT 2")...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, back); err != nil || string(back) != string(msg) {
		t.Fatalf("echo %q, %v", back, err)
	}
	if n := c.Statements(); n != 2 {
		t.Errorf("%d statements, want 2", n)
	}
}
