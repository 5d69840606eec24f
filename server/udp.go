package server

import (
	"errors"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// maxUDPMessage is the largest UDP payload.
const maxUDPMessage = 65535

// udpBatch is how many datagrams one recvmmsg/sendmmsg moves: one system
// call per batch instead of one per query under load.
const udpBatch = 32

// udpQueryBuf bounds a UDP query read (a longer one is truncated and gets
// FORMERR); udpReplyBuf is the reply buffer each slot starts with (the
// engine grows it for the rare larger reply).
const (
	udpQueryBuf = 4096
	udpReplyBuf = 4096
)

// batchConn is the recvmmsg/sendmmsg view of a UDP socket (ipv4 and ipv6
// PacketConns both provide it; their Message types are the same).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// serveUDP answers the queries arriving on one UDP socket until it is
// closed. Each socket has its own goroutine and its own buffers; queries
// are read and replies written in batches.
func (s *Server) serveUDP(u udpSocket) {
	defer s.wg.Done()
	var pc batchConn = ipv4.NewPacketConn(u.c)
	if u.v6 {
		pc = ipv6.NewPacketConn(u.c)
	}
	in := make([]ipv4.Message, udpBatch)
	replies := make([][]byte, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpQueryBuf)}
		if u.pktinfo {
			in[i].OOB = make([]byte, pktinfoSpace)
		}
		replies[i] = make([]byte, 0, udpReplyBuf)
		out[i].Buffers = make([][]byte, 1)
	}
	local := netip.AddrPort{}
	if la, ok := u.c.LocalAddr().(*net.UDPAddr); ok {
		local = la.AddrPort()
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Debug("udp read", "err", err)
			continue
		}
		k := 0
		for i := 0; i < n; i++ {
			m := &in[i]
			from, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue // no way to answer
			}
			if s.cfg.DropSourcePorts.Has(uint16(from.Port)) {
				s.n.udpDroppedSourcePort.Add(1)
				continue
			}
			if from.Port == 0 {
				continue // no way to answer
			}
			var oob []byte
			if u.pktinfo {
				var dst destination
				oob, dst = replyOOB(m.OOB[:m.NN], u.v6)
				if dst == destGroup && !s.answerGroup(u) {
					continue
				}
			}
			var received time.Time
			tapped := s.cfg.Tap != nil && s.cfg.Tap.Sampled()
			if tapped {
				received = time.Now()
			}
			resp, isNotify := s.notify(m.Buffers[0][:m.N], from.AddrPort().Addr())
			if !isNotify {
				resp = s.respond(replies[i][:0], m.Buffers[0][:m.N], false)
			}
			if resp == nil {
				continue
			}
			if tapped {
				s.observe(false, from.AddrPort(), local, received, m.Buffers[0][:m.N], resp)
			}
			if cap(resp) > cap(replies[i]) {
				replies[i] = resp[:0] // keep the grown buffer
			}
			o := &out[k]
			o.Buffers[0] = resp
			o.Addr = m.Addr
			o.OOB = oob
			k++
		}
		for sent := 0; sent < k; {
			w, err := pc.WriteBatch(out[sent:k], 0)
			if err != nil {
				if !s.isClosed() {
					s.log.Debug("udp write", "err", err)
				}
				break
			}
			sent += w
		}
	}
}

// answerGroup says whether socket u answers a query sent to a broadcast
// or multicast address: every socket of the address gets a copy, and only
// the first answers, when Config.AnswerGroupQueries allows; the first
// counts the queries dropped.
func (s *Server) answerGroup(u udpSocket) bool {
	if !u.first {
		return false
	}
	if !s.cfg.AnswerGroupQueries {
		s.n.udpDroppedGroup.Add(1)
		return false
	}
	return true
}

// respond runs the engine on one query, dropping it (and logging) should
// the engine ever panic.
func (s *Server) respond(dst, pkt []byte, tcp bool) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic answering a query; dropped", "panic", r, "tcp", tcp, "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return s.eng.Respond(dst, pkt, tcp)
}
