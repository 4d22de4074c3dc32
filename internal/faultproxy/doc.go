// Package faultproxy is a TCP proxy for fault-injection tests: it sits
// between walship and a server (PostgreSQL, MariaDB, Kafka, a follower)
// and, on command, delays, stalls, cuts or resets the connections through
// it. Tests point walship at Proxy.Addr instead of the server.
//
// Modes, switched at any time with Set:
//
//	Pass    forward bytes as they come
//	Delay   hold each chunk of bytes for a fixed time before forwarding it
//	Stall   forward nothing, accept new connections but forward nothing on
//	        them either (a network that swallows packets)
//	Refuse  close new connections at once (the server is unreachable)
//
// and one-shot actions on the live connections: Cut closes them (FIN), Reset
// aborts them (RST, via SO_LINGER 0). Leaving Stall or Delay lets held bytes
// through in order; nothing is dropped silently except by Cut and Reset,
// whose connections are gone.
package faultproxy
