package testenv

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// DeleteRecords removes the records of topic/partition before offset
// before, as retention does: afterwards the partition's first offset is
// before. kafka-go has no DeleteRecords call, so this speaks the Kafka
// protocol's DeleteRecords v0 (API key 21) to the partition's leader.
func DeleteRecords(t testing.TB, topic string, partition int, before int64) {
	t.Helper()
	broker := strings.TrimSpace(strings.Split(Kafka(t), ",")[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leader, err := kafkago.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		t.Fatalf("delete records of %s/%d: %v", topic, partition, err)
	}
	addr := leader.RemoteAddr().String()
	leader.Close()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("delete records of %s/%d: %v", topic, partition, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))

	var body bytes.Buffer
	w := func(v any) { binary.Write(&body, binary.BigEndian, v) }
	str := func(s string) { w(int16(len(s))); body.WriteString(s) }
	w(int16(21)) // api key: DeleteRecords
	w(int16(0))  // version
	w(int32(1))  // correlation id
	str("walship-test")
	w(int32(1)) // topics
	str(topic)
	w(int32(1)) // partitions
	w(int32(partition))
	w(before)
	w(int32(15000)) // timeout ms
	var req bytes.Buffer
	binary.Write(&req, binary.BigEndian, int32(body.Len()))
	req.Write(body.Bytes())
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatalf("delete records of %s/%d: %v", topic, partition, err)
	}

	var size int32
	if err := binary.Read(conn, binary.BigEndian, &size); err != nil {
		t.Fatalf("delete records of %s/%d: read the answer: %v", topic, partition, err)
	}
	resp := make([]byte, size)
	if _, err := io.ReadFull(conn, resp); err != nil {
		t.Fatalf("delete records of %s/%d: read the answer: %v", topic, partition, err)
	}
	r := bytes.NewReader(resp)
	var corr, throttle, ntopics, nparts, part int32
	var nameLen, code int16
	var low int64
	binary.Read(r, binary.BigEndian, &corr)
	binary.Read(r, binary.BigEndian, &throttle)
	binary.Read(r, binary.BigEndian, &ntopics)
	binary.Read(r, binary.BigEndian, &nameLen)
	r.Seek(int64(nameLen), io.SeekCurrent)
	binary.Read(r, binary.BigEndian, &nparts)
	binary.Read(r, binary.BigEndian, &part)
	binary.Read(r, binary.BigEndian, &low)
	if err := binary.Read(r, binary.BigEndian, &code); err != nil || ntopics != 1 || nparts != 1 {
		t.Fatalf("delete records of %s/%d: unexpected answer (%d topics, %d partitions): %v", topic, partition, ntopics, nparts, err)
	}
	if code != 0 {
		t.Fatalf("delete records of %s/%d before %d: %v", topic, partition, before, kafkago.Error(code))
	}
	if low != before {
		t.Fatalf("delete records of %s/%d before %d: the partition now starts at %d", topic, partition, before, low)
	}
}
