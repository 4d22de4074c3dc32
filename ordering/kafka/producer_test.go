package kafka

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TestProducerFailureCompletesEverythingInOrder: with no broker, the first
// request fails for good; every record queued then or later completes
// with an error, exactly once, in enqueue order, in batches within the
// byte bound.
func TestProducerFailureCompletesEverythingInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connections are refused

	var mu sync.Mutex
	var got []string
	var batches int
	p := &producer{
		client:      &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: time.Second},
		maxBytes:    350,
		maxAttempts: 1,
		timeout:     time.Second,
		parts:       map[partKey]*partQueue{},
	}
	p.complete = func(msgs []kafkago.Message, err error) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		if err == nil {
			t.Errorf("a batch to an absent broker succeeded")
		}
		var n int
		for _, m := range msgs {
			n += size(&m)
			got = append(got, string(m.Value))
		}
		if len(msgs) > 1 && int64(n) > p.maxBytes {
			t.Errorf("a batch of %d bytes, over the %d-byte bound", n, p.maxBytes)
		}
	}
	const count = 40
	for i := 0; i < count; i++ {
		v := fmt.Sprintf("%03d", i) + string(make([]byte, 97))
		if err := p.enqueue(kafkago.Message{Topic: "t", Partition: 0, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	p.close()
	if err := p.enqueue(kafkago.Message{Topic: "t"}); err != ErrClosed {
		t.Errorf("enqueue after close: %v, want ErrClosed", err)
	}
	if len(got) != count {
		t.Fatalf("%d records completed, want %d", len(got), count)
	}
	for i, v := range got {
		if v[:3] != fmt.Sprintf("%03d", i) {
			t.Fatalf("record %d completed as %q: out of order", i, v[:3])
		}
	}
	if batches < count/3 {
		t.Errorf("%d batches for %d records of 100 bytes under a 350-byte bound", batches, count)
	}
}
