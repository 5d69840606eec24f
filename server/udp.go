package server

import (
	"errors"
	"net"
	"runtime/debug"
)

// maxUDPMessage is the largest UDP payload.
const maxUDPMessage = 65535

// serveUDP answers the queries arriving on one UDP socket until it is
// closed. Each socket has its own goroutine and its own buffers.
func (s *Server) serveUDP(u udpSocket) {
	defer s.wg.Done()
	c := u.c
	in := make([]byte, maxUDPMessage)
	out := make([]byte, 0, maxUDPMessage)
	var oob []byte
	if u.pktinfo {
		oob = make([]byte, pktinfoSpace)
	}
	for {
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(in, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Debug("udp read", "err", err)
			continue
		}
		if from.Port() == 0 {
			continue // no way to answer
		}
		resp := s.respond(out[:0], in[:n], false)
		if resp == nil {
			continue
		}
		var ctl []byte
		if u.pktinfo {
			ctl = replyOOB(oob[:oobn], u.v6)
		}
		if _, _, err := c.WriteMsgUDPAddrPort(resp, ctl, from); err != nil && !s.isClosed() {
			s.log.Debug("udp write", "client", from, "err", err)
		}
	}
}

// respond calls the engine, turning a panic into a dropped query so that
// one bad packet cannot take the server down.
func (s *Server) respond(dst, pkt []byte, tcp bool) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic answering a query; dropped", "panic", r, "tcp", tcp, "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return s.eng.Respond(dst, pkt, tcp)
}
