package preflight

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/walship/walship/config"
	walkafka "github.com/walship/walship/ordering/kafka"
)

// kafkaTarget builds the Kafka target: every bootstrap broker, then every
// broker the cluster advertises.
func kafkaTarget(k config.Kafka) target {
	dial := k.DialTimeout
	if dial <= 0 {
		dial = config.DefaultDialTimeout
	}
	return target{
		res: Result{Target: "kafka", Engine: "kafka", Addr: strings.Join(k.Brokers, ",")},
		// Two rounds of dials (bootstrap, advertised), each then one request.
		timeout: 2 * (dial + ConnectTimeout),
		run: func(ctx context.Context, r *Result) {
			sec, err := walkafka.NewSecurity(k)
			if err != nil {
				r.Problems = append(r.Problems, Problem{Code: Config, Msg: err.Error()})
				return
			}
			checkKafka(ctx, r, k.Brokers, sec.Dialer(dial))
		},
	}
}

// brokerProbe is what one broker answered.
type brokerProbe struct {
	addr       string
	key        string // config key of a bootstrap broker; "" for an advertised one
	id         int    // broker id of an advertised broker
	brokers    []kafka.Broker
	controller kafka.Broker
	err        error
}

func checkKafka(ctx context.Context, r *Result, bootstrap []string, d *kafka.Dialer) {
	probes := make([]brokerProbe, len(bootstrap))
	for i, addr := range bootstrap {
		probes[i] = brokerProbe{addr: addr, key: fmt.Sprintf("kafka.brokers[%d]", i)}
	}
	probeAll(ctx, d, probes, true)

	var meta *brokerProbe
	reached := map[string]bool{}
	for i := range probes {
		p := &probes[i]
		if p.err != nil {
			r.Problems = append(r.Problems, kafkaProblem(p))
			continue
		}
		reached[p.addr] = true
		if meta == nil {
			meta = p
		}
	}
	if meta == nil {
		for _, p := range r.Problems {
			if p.Code == AuthFailed {
				return // the brokers answered; the login or the certificate failed
			}
		}
		r.problem(Unreachable, "none of the %d configured brokers answered: start Kafka, or fix kafka.brokers", len(bootstrap))
		return
	}
	r.fact("%s reachable of %d configured", plural(len(reached), "broker"), len(bootstrap))
	r.fact("cluster has %s", plural(len(meta.brokers), "broker"))
	r.fact("controller is broker %d at %s", meta.controller.ID, brokerAddr(meta.controller))

	// Clients talk to the addresses brokers advertise, not the bootstrap
	// list: a broker advertising an address this host cannot reach (a
	// container name, say) breaks producing and consuming.
	var advertised []brokerProbe
	for _, b := range meta.brokers {
		if addr := brokerAddr(b); !reached[addr] {
			advertised = append(advertised, brokerProbe{addr: addr, id: b.ID})
		}
	}
	probeAll(ctx, d, advertised, false)
	for i := range advertised {
		p := &advertised[i]
		if p.err == nil {
			r.fact("advertised broker %d at %s reachable", p.id, p.addr)
			continue
		}
		np := kafkaProblem(p)
		r.problem(np.Code, "broker %d advertises %s, which this host cannot use (%s): set advertised.listeners on that broker to an address clients can reach",
			p.id, p.addr, np.Msg)
	}
}

// brokerAddr is a broker's advertised host:port.
func brokerAddr(b kafka.Broker) string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

// probeAll probes every broker concurrently. With metadata, each probe also
// reads the broker list and the controller.
func probeAll(ctx context.Context, d *kafka.Dialer, probes []brokerProbe, metadata bool) {
	var wg sync.WaitGroup
	for i := range probes {
		wg.Go(func() { probeBroker(ctx, d, &probes[i], metadata) })
	}
	wg.Wait()
}

func probeBroker(ctx context.Context, d *kafka.Dialer, p *brokerProbe, metadata bool) {
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		p.err = err
		return
	}
	defer conn.Close()
	// The requests below honour deadlines, not contexts: set one, and close
	// the connection if ctx ends first.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	deadline := time.Now().Add(ConnectTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		p.err = err
		return
	}
	if !metadata {
		_, p.err = conn.ApiVersions()
		return
	}
	if p.brokers, err = conn.Brokers(); err != nil {
		p.err = err
		return
	}
	p.controller, p.err = conn.Controller()
}

// kafkaProblem classifies a failed probe.
func kafkaProblem(p *brokerProbe) Problem {
	what := p.key
	if what == "" {
		what = "the broker's advertised.listeners"
	}
	if np, ok := netProblem(p.err, p.addr, what); ok {
		return np
	}
	if errors.Is(p.err, net.ErrClosed) {
		return Problem{Unreachable, fmt.Sprintf("the check of %s was cancelled before the broker answered", p.addr)}
	}
	var kerr kafka.Error
	if errors.As(p.err, &kerr) {
		if kerr == kafka.SASLAuthenticationFailed || kerr == kafka.UnsupportedSASLMechanism || kerr == kafka.IllegalSASLState {
			return Problem{AuthFailed, fmt.Sprintf("broker %s refused the login: %s (%s): check kafka.sasl (mechanism, username, password)", p.addr, kerr.Title(), kerr.Description())}
		}
		return Problem{Other, fmt.Sprintf("broker %s answered with an error: %s (%s)", p.addr, kerr.Title(), kerr.Description())}
	}
	var cerr *tls.CertificateVerificationError
	if errors.As(p.err, &cerr) {
		return Problem{AuthFailed, fmt.Sprintf("broker %s: its TLS certificate does not verify: %v: check kafka.tls.ca_file (and server_name)", p.addr, cerr)}
	}
	return Problem{Other, fmt.Sprintf("broker %s: %v: check that %s is a Kafka listener of the kind configured (kafka.tls and kafka.sasl must match the listener)", p.addr, p.err, what)}
}
