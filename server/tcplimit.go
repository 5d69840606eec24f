package server

import (
	"net/netip"
)

// TCP connections are admitted by connLimits. Connections the host makes
// to itself (the health check's self-query) have a few reserved slots of
// their own, so that clients holding the public pool cannot make the node
// fail its health check and withdraw its routes. Every other connection
// takes a slot of the public pool (Config.TCPMaxConns) and one of its
// client's quota (Config.TCPMaxConnsPerClient), a client being its
// address cut to Config.TCPClientPrefix4 or TCPClientPrefix6 bits.
//
// A connection is the host's own when its source address is its
// destination address: the kernel picks that source for a connection to
// one of its own addresses, and no one else can complete a TCP handshake
// with it (the SYN-ACK would go to the host itself).

// tcpSlot is what an admitted connection holds, to be given back when it
// closes.
type tcpSlot struct {
	self   bool         // a reserved slot for the host's own connections
	client netip.Prefix // the client's prefix, for a public slot
}

// refusal says why a connection was not admitted.
type refusal int

const (
	admitted      refusal = iota
	refusedPool           // the public pool is full
	refusedClient         // the client's quota is used up
)

// connLimits counts the open connections against the limits. Its owner
// serialises calls (Server.mu).
type connLimits struct {
	max, perClient, self int
	bits4, bits6         int

	public   int                  // connections holding a public slot
	selfUsed int                  // connections holding a reserved slot
	clients  map[netip.Prefix]int // public connections by client
}

func newConnLimits(cfg Config) *connLimits {
	return &connLimits{
		max:       cfg.TCPMaxConns,
		perClient: cfg.TCPMaxConnsPerClient,
		self:      cfg.TCPSelfConns,
		bits4:     cfg.TCPClientPrefix4,
		bits6:     cfg.TCPClientPrefix6,
		clients:   make(map[netip.Prefix]int),
	}
}

// clientOf returns the prefix a connection from a is counted under.
func (l *connLimits) clientOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := l.bits6
	if a.Is4() {
		bits = l.bits4
	}
	p, err := a.Prefix(bits)
	if err != nil { // not an IP address: one client for all of those
		return netip.Prefix{}
	}
	return p
}

// admit takes a slot for a connection from remote to local, or says why
// there is none.
func (l *connLimits) admit(remote, local netip.Addr) (tcpSlot, refusal) {
	remote, local = remote.Unmap(), local.Unmap()
	if remote.IsValid() && remote == local && l.selfUsed < l.self {
		l.selfUsed++
		return tcpSlot{self: true}, admitted
	}
	if l.public >= l.max {
		return tcpSlot{}, refusedPool
	}
	c := l.clientOf(remote)
	if l.clients[c] >= l.perClient {
		return tcpSlot{}, refusedClient
	}
	l.public++
	l.clients[c]++
	return tcpSlot{client: c}, admitted
}

// release gives back the slot s.
func (l *connLimits) release(s tcpSlot) {
	if s.self {
		l.selfUsed--
		return
	}
	l.public--
	if n := l.clients[s.client] - 1; n > 0 {
		l.clients[s.client] = n
	} else {
		delete(l.clients, s.client)
	}
}
