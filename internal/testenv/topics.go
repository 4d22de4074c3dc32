package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// DropTopics deletes every topic whose name starts with prefix, so test
// runs do not pile topics up in the shared broker (which slows its
// restarts). Errors are logged, not fatal: it runs in cleanups.
func DropTopics(t testing.TB, prefix string) {
	t.Helper()
	broker := strings.TrimSpace(strings.Split(Kafka(t), ",")[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 20 * time.Second}
	meta, err := c.Metadata(ctx, &kafkago.MetadataRequest{})
	if err != nil {
		t.Logf("drop topics %s*: %v", prefix, err)
		return
	}
	var topics []string
	for _, tp := range meta.Topics {
		if strings.HasPrefix(tp.Name, prefix) {
			topics = append(topics, tp.Name)
		}
	}
	if len(topics) == 0 {
		return
	}
	res, err := c.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		t.Logf("drop topics %s*: %v", prefix, err)
		return
	}
	for tp, err := range res.Errors {
		if err != nil {
			t.Logf("drop topic %s: %v", tp, err)
		}
	}
}
