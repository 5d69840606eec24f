package server

import (
	"net/netip"
	"time"
)

// Tap is told about the queries the server answers, for query logging
// (dnstap). Sampled is asked first, for every query, and must be cheap;
// Observed is called only for a sampled query, after its reply is built.
type Tap interface {
	Sampled() bool
	Observed(o Observation)
}

// Observation is one answered query. Its byte slices are valid only during
// the Observed call: copy what is kept.
type Observation struct {
	TCP            bool
	Client, Server netip.AddrPort
	Received       time.Time // when the query was read
	Query, Reply   []byte
}

// observe hands a sampled query to the tap, if any.
func (s *Server) observe(tcp bool, client, server netip.AddrPort, received time.Time, query, reply []byte) {
	s.cfg.Tap.Observed(Observation{TCP: tcp, Client: client, Server: server, Received: received, Query: query, Reply: reply})
}
