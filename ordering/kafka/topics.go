package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Topics creates topics on first use and caches their partition counts.
type Topics struct {
	client            *kafkago.Client
	partitions        int
	replicationFactor int
	maxMessageBytes   int

	mu    sync.Mutex
	known map[string]int // topic -> partition count
}

// TopicName is <prefix>.<schema>.<table>, with characters Kafka does not
// allow in topic names replaced by '_'.
func TopicName(prefix, schema, table string) string {
	return prefix + "." + topicSafe(schema) + "." + topicSafe(table)
}

// TransactionTopic is <prefix>.transaction.
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

func topicSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Ensure creates topic if it is missing (with partitions partitions, or
// the configured default when partitions is 0) and returns its actual
// partition count.
func (t *Topics) Ensure(ctx context.Context, topic string, partitions int) (int, error) {
	t.mu.Lock()
	n, ok := t.known[topic]
	t.mu.Unlock()
	if ok {
		return n, nil
	}
	if partitions == 0 {
		partitions = t.partitions
	}
	resp, err := t.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{
		Topics: []kafkago.TopicConfig{{
			Topic:             topic,
			NumPartitions:     partitions,
			ReplicationFactor: t.replicationFactor,
			ConfigEntries: []kafkago.ConfigEntry{
				{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(t.maxMessageBytes)},
			},
		}},
	})
	if err != nil {
		return 0, fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s: %w", topic, err)
	}
	meta, err := t.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of topic %s: %w", topic, err)
	}
	for _, mt := range meta.Topics {
		if mt.Name == topic {
			if mt.Error != nil {
				return 0, fmt.Errorf("metadata of topic %s: %w", topic, mt.Error)
			}
			n = len(mt.Partitions)
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("topic %s has no partitions in the cluster metadata", topic)
	}
	t.mu.Lock()
	t.known[topic] = n
	t.mu.Unlock()
	return n, nil
}

// Forget drops a topic from the cache (after a metadata error).
func (t *Topics) Forget(topic string) {
	t.mu.Lock()
	delete(t.known, topic)
	t.mu.Unlock()
}

// brokerAddr is the kafka-go address of a broker list.
func brokerAddr(brokers []string) net.Addr { return kafkago.TCP(brokers...) }

// Partitions returns topic's partition count as the cluster reports it now
// (0 when the topic does not exist). It asks the brokers directly:
// kafka-go's Transport answers metadata requests from a cache refreshed
// every few seconds, which does not know a topic another process created
// since.
func Partitions(ctx context.Context, brokers []string, sec Security, timeout time.Duration, topic string) (int, error) {
	tr := sec.Transport(timeout, time.Hour)
	defer tr.CloseIdleConnections()
	c := &kafkago.Client{Addr: brokerAddr(brokers), Timeout: timeout, Transport: tr}
	meta, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
			return 0, nil
		}
		if t.Error != nil {
			return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		return len(t.Partitions), nil
	}
	return 0, nil
}

// FirstOffsets returns the first offset each of parts (topic → partitions)
// still holds, as the brokers report it now: 0 unless retention (or
// DeleteRecords) removed the partition's beginning.
func FirstOffsets(ctx context.Context, brokers []string, sec Security, timeout time.Duration, parts map[string][]int) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{}
	if len(parts) == 0 {
		return out, nil
	}
	tr := sec.Transport(timeout, time.Hour)
	defer tr.CloseIdleConnections()
	c := &kafkago.Client{Addr: brokerAddr(brokers), Timeout: timeout, Transport: tr}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for topic, ps := range parts {
		for _, p := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafkago.FirstOffsetOf(p))
		}
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("first offset of %s/%d: %w", topic, p.Partition, p.Error)
			}
			if out[topic] == nil {
				out[topic] = map[int]int64{}
			}
			out[topic][p.Partition] = p.FirstOffset
		}
	}
	for topic, ps := range parts {
		for _, p := range ps {
			if _, ok := out[topic][p]; !ok {
				return nil, fmt.Errorf("first offset of %s/%d: the brokers did not answer for it", topic, p)
			}
		}
	}
	return out, nil
}
