package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is how the proxy treats traffic.
type Mode int

const (
	Pass Mode = iota
	Delay
	Stall
	Refuse
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Delay:
		return "delay"
	case Stall:
		return "stall"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Proxy forwards TCP connections from Addr to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cond  *sync.Cond // signalled when the mode changes
	mode  Mode
	delay time.Duration
	conns map[*pair]struct{}
	stats Stats
	done  bool
}

// Stats counts what the proxy did.
type Stats struct {
	Accepted, Refused, Cut, Reset int
	Bytes                         int64
}

type pair struct{ client, server net.Conn }

// Listen starts a proxy on listen (host:port, port 0 for any) to target.
func Listen(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the mode; d is the delay of Delay.
func (p *Proxy) Set(m Mode, d time.Duration) {
	p.mu.Lock()
	p.mode, p.delay = m, d
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Cut closes every live connection on both sides (an orderly FIN).
func (p *Proxy) Cut() int { return p.drop(false) }

// Reset aborts every live connection on both sides (RST).
func (p *Proxy) Reset() int { return p.drop(true) }

func (p *Proxy) drop(rst bool) int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		pairs = append(pairs, c)
		delete(p.conns, c)
	}
	if rst {
		p.stats.Reset += len(pairs)
	} else {
		p.stats.Cut += len(pairs)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, c := range pairs {
		for _, conn := range []net.Conn{c.client, c.server} {
			if tc, ok := conn.(*net.TCPConn); ok && rst {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	}
	return len(pairs)
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.done = true
	p.cond.Broadcast()
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.mode == Refuse || p.done
		if refuse {
			p.stats.Refused++
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	pr := &pair{client, server}
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[pr] = struct{}{}
	p.stats.Accepted++
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(pr, server, client) }()
	go func() { defer wg.Done(); p.pipe(pr, client, server) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, pr)
	p.mu.Unlock()
	client.Close()
	server.Close()
}

// pipe copies src to dst chunk by chunk, honouring the mode before each
// chunk is written.
func (p *Proxy) pipe(pr *pair, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(pr) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.mu.Lock()
			p.stats.Bytes += int64(n)
			p.mu.Unlock()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Half-close: pass the FIN on.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					return
				}
			}
			dst.Close()
			return
		}
	}
}

// gate waits while the mode holds bytes back; false when the connection
// was dropped meanwhile.
func (p *Proxy) gate(pr *pair) bool {
	p.mu.Lock()
	for p.mode == Stall && !p.done {
		if _, live := p.conns[pr]; !live {
			p.mu.Unlock()
			return false
		}
		p.cond.Wait()
	}
	_, live := p.conns[pr]
	d := time.Duration(0)
	if p.mode == Delay {
		d = p.delay
	}
	p.mu.Unlock()
	if !live {
		return false
	}
	if d > 0 {
		time.Sleep(d)
	}
	return true
}
