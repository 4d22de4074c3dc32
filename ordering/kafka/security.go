package kafka

import (
	"crypto/tls"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/walship/walship/config"
)

// Security is how connections to the brokers are made: TLS and SASL, each
// optional. The zero value is plaintext without authentication. Every
// connection walship makes to Kafka (publisher, readers, topic admin,
// dead letters, replay) is built from one Security, so none of them falls
// back to plaintext when TLS is asked for.
type Security struct {
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// NewSecurity loads the certificates and builds the SASL mechanism of the
// kafka block of the configuration.
func NewSecurity(k config.Kafka) (Security, error) {
	var s Security
	t, err := k.TLS.Config("") // the server name: each broker's host
	if err != nil {
		return s, fmt.Errorf("kafka.%w", err)
	}
	s.TLS = t
	c := k.SASL
	if c == nil {
		return s, nil
	}
	switch c.Mechanism {
	case "PLAIN":
		s.SASL = plain.Mechanism{Username: c.Username, Password: c.Password.Reveal()}
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if c.Mechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.Username, c.Password.Reveal())
		if err != nil {
			return s, fmt.Errorf("kafka.sasl: %w", err)
		}
		s.SASL = m
	default:
		return s, fmt.Errorf("kafka.sasl.mechanism: unknown %q", c.Mechanism)
	}
	return s, nil
}

// Transport is a kafka-go transport (writers, admin clients) with s.
func (s Security) Transport(dialTimeout, metadataTTL time.Duration) *kafkago.Transport {
	return &kafkago.Transport{DialTimeout: dialTimeout, MetadataTTL: metadataTTL, TLS: s.TLS, SASL: s.SASL}
}

// Dialer is a kafka-go dialer (readers, leader connections) with s.
func (s Security) Dialer(timeout time.Duration) *kafkago.Dialer {
	return &kafkago.Dialer{Timeout: timeout, DualStack: true, TLS: s.TLS, SASLMechanism: s.SASL}
}
