package preflight

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// Integration tests against the local Kafka broker (make env-up). The
// closed-port case needs no broker: see TestUnreachableClosedPort.

func kafkaConfig(brokers ...string) *config.Config {
	return &config.Config{Kafka: config.Kafka{Brokers: brokers, DialTimeout: 5 * time.Second}}
}

func TestKafkaGood(t *testing.T) {
	brokers := strings.Split(testenv.Kafka(t), ",")
	res := only(t, runCheck(t, kafkaConfig(brokers...)))
	wantNoProblems(t, res)
	wantFact(t, res, "cluster has 1 broker")
	wantFact(t, res, "controller is broker")
	if res.Target != "kafka" || res.Addr != strings.Join(brokers, ",") {
		t.Errorf("header: %q %q", res.Target, res.Addr)
	}
}

// One dead bootstrap broker is listed by address; the live one still
// reports the cluster.
func TestKafkaOneBrokerDown(t *testing.T) {
	good := strings.Split(testenv.Kafka(t), ",")[0]
	dead := closedAddr(t)
	res := only(t, runCheck(t, kafkaConfig(good, dead)))
	p := wantProblem(t, res, Unreachable, "cannot connect to "+dead, "kafka.brokers[1]")
	if strings.Contains(p.Msg, good) {
		t.Errorf("the problem names the live broker: %s", p.Msg)
	}
	if n := len(res.Problems); n != 1 {
		t.Errorf("got %d problems, want 1", n)
	}
	wantFact(t, res, "1 broker reachable of 2 configured")
	wantFact(t, res, "cluster has 1 broker")
}

// Bootstrapping by another name for the same broker makes Check probe the
// address the broker advertises, as clients will use it.
func TestKafkaAdvertisedAddressProbed(t *testing.T) {
	first := strings.Split(testenv.Kafka(t), ",")[0]
	host, port, err := net.SplitHostPort(first)
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" {
		t.Skipf("the broker is at %s, not 127.0.0.1: cannot name it differently", host)
	}
	res := only(t, runCheck(t, kafkaConfig(net.JoinHostPort("localhost", port))))
	wantNoProblems(t, res)
	wantFact(t, res, "advertised broker")
}
