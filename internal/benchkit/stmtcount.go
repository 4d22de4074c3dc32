package benchkit

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// StatementCounter is a TCP proxy between a client (the daemon) and a
// PostgreSQL or MySQL/MariaDB server that counts the statements the client
// sends, by reading the client's side of the wire protocol. Point the
// client's DSN at Addr. It counts
//
//   - PostgreSQL: Execute ('E', extended protocol: every statement of a
//     pipeline or pgx.Batch is one) and Query ('Q', simple protocol: one per
//     message, however many statements its text holds). Only plaintext
//     connections (sslmode=disable) are readable; a connection that
//     upgrades to TLS is forwarded uncounted and counted in Opaque.
//   - MySQL/MariaDB: COM_QUERY and COM_STMT_EXECUTE commands (one per
//     command, however many statements a multi-statement COM_QUERY holds).
//
// Statement counts of followers whose servers are shared (global status
// counters such as MariaDB's Com_update) include every other client's;
// this one counts the daemon's connections only.
type StatementCounter struct {
	ln     net.Listener
	target string
	proto  string

	statements atomic.Int64
	opaque     atomic.Int64
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      []net.Conn
}

// CountStatements listens on 127.0.0.1 and forwards to target (host:port);
// proto is "postgres" or "mysql".
func CountStatements(proto, target string) (*StatementCounter, error) {
	if proto != "postgres" && proto != "mysql" {
		return nil, fmt.Errorf("statement counter: unknown protocol %q", proto)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &StatementCounter{ln: ln, target: target, proto: proto}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is the proxy's host:port.
func (c *StatementCounter) Addr() string { return c.ln.Addr().String() }

// Statements is the number counted so far.
func (c *StatementCounter) Statements() int64 { return c.statements.Load() }

// Opaque is the number of connections that could not be read (TLS).
func (c *StatementCounter) Opaque() int64 { return c.opaque.Load() }

// Close stops listening and closes every connection.
func (c *StatementCounter) Close() error {
	err := c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return err
}

func (c *StatementCounter) accept() {
	defer c.wg.Done()
	for {
		client, err := c.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", c.target)
		if err != nil {
			client.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, client, server)
		c.mu.Unlock()
		c.wg.Add(2)
		go func() {
			defer c.wg.Done()
			io.Copy(client, server)
			client.Close()
		}()
		go func() {
			defer c.wg.Done()
			c.forward(client, server)
			server.Close()
		}()
	}
}

// forward copies the client's bytes to the server, parsing them first.
func (c *StatementCounter) forward(client, server net.Conn) {
	p := &wireParser{mysql: c.proto == "mysql", startup: true}
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			// Counted before they are forwarded: a statement the server
			// answered is always counted (the answer cannot overtake it).
			if !p.opaque {
				c.statements.Add(p.feed(buf[:n]))
				if p.opaque {
					c.opaque.Add(1)
				}
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wireParser reads a client's side of the protocol incrementally:
//   - PostgreSQL: untyped startup-phase messages (SSLRequest,
//     GSSENCRequest, StartupMessage: int32 length, int32 code), then typed
//     messages (byte type, int32 length counting itself);
//   - MySQL: packets of a 3-byte little-endian length and a sequence
//     number; a command is the first byte of a packet of sequence 0.
type wireParser struct {
	mysql   bool
	startup bool // PostgreSQL: before the StartupMessage
	opaque  bool // the stream cannot be read (TLS): stop
	hdr     []byte
	skip    int64 // payload bytes left of the current message
	command bool  // MySQL: the next payload byte is a command
}

// feed parses b and returns the statements it completed.
func (p *wireParser) feed(b []byte) (statements int64) {
	for len(b) > 0 && !p.opaque {
		if p.skip > 0 {
			if p.command {
				if b[0] == 0x03 || b[0] == 0x17 { // COM_QUERY, COM_STMT_EXECUTE
					statements++
				}
				p.command = false
			}
			k := min(p.skip, int64(len(b)))
			p.skip -= k
			b = b[k:]
			continue
		}
		hl := 5
		switch {
		case p.mysql:
			hl = 4
		case p.startup:
			hl = 8
		}
		k := min(hl-len(p.hdr), len(b))
		p.hdr = append(p.hdr, b[:k]...)
		b = b[k:]
		if len(p.hdr) < hl {
			return statements
		}
		h := p.hdr
		p.hdr = p.hdr[:0]
		switch {
		case p.mysql:
			p.skip = int64(h[0]) | int64(h[1])<<8 | int64(h[2])<<16
			p.command = h[3] == 0 && p.skip > 0
		case p.startup:
			n, code := binary.BigEndian.Uint32(h[:4]), binary.BigEndian.Uint32(h[4:8])
			switch {
			case (code == 80877103 || code == 80877104) && n == 8: // SSLRequest, GSSENCRequest
			case code == 196608 && n >= 8: // StartupMessage, protocol 3.0
				p.startup, p.skip = false, int64(n-8)
			default:
				p.opaque = true
			}
		default:
			n := binary.BigEndian.Uint32(h[1:5])
			if n < 4 {
				p.opaque = true
				break
			}
			if h[0] == 'E' || h[0] == 'Q' {
				statements++
			}
			p.skip = int64(n - 4)
		}
	}
	return statements
}
