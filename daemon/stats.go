package daemon

import (
	"sync/atomic"
	"time"

	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

// maxKinds bounds the answer kinds counted; a kind beyond it (added to
// the engine later) is counted in the last slot.
const maxKinds = 16

// dropped is the slot counting queries given no reply.
const dropped = maxKinds

// counters counts the queries answered in userspace by transport (UDP 0,
// TCP 1) and answer kind. One atomic add per query.
type counters struct {
	q [2][maxKinds + 1]atomic.Uint64
	// paused drops every query unanswered and uncounted (PauseServing,
	// test only).
	paused atomic.Bool
	// Reloads by result, and the time spent in them.
	reloadsOK, reloadsFailed atomic.Uint64
	reloadNanos              atomic.Int64
}

// reloaded counts one reload that took d and ended with err.
func (c *counters) reloaded(d time.Duration, err error) {
	if err != nil {
		c.reloadsFailed.Add(1)
	} else {
		c.reloadsOK.Add(1)
	}
	c.reloadNanos.Add(int64(d))
}

// reloads returns the reload counters.
func (c *counters) reloads() control.ReloadStats {
	return control.ReloadStats{
		OK:      c.reloadsOK.Load(),
		Failed:  c.reloadsFailed.Load(),
		Seconds: time.Duration(c.reloadNanos.Load()).Seconds(),
	}
}

func (c *counters) add(tcp bool, k engine.Kind, drop bool) {
	t := 0
	if tcp {
		t = 1
	}
	i := int(k)
	switch {
	case drop:
		i = dropped
	case i >= maxKinds:
		i = maxKinds - 1
	}
	c.q[t][i].Add(1)
}

// snapshot returns the counters by transport and kind name. Every kind
// the engine names is present, zero or not.
func (c *counters) snapshot() map[string]map[string]uint64 {
	out := make(map[string]map[string]uint64, 2)
	for t, name := range [2]string{"udp", "tcp"} {
		m := make(map[string]uint64, maxKinds+1)
		for i := 0; i < maxKinds; i++ {
			n := c.q[t][i].Load()
			kind := engine.Kind(i).String()
			if kind == "unknown" {
				if n == 0 {
					continue
				}
				kind = control.KindOther
			}
			m[kind] += n
		}
		m[control.KindDropped] = c.q[t][dropped].Load()
		out[name] = m
	}
	return out
}

// countingEngine is the engine as the server sees it, counting every
// answer by transport and kind.
type countingEngine struct {
	*engine.Engine
	n *counters
}

// RespondUDP is Respond over UDP through the socket's reply cache.
func (c countingEngine) RespondUDP(cache *engine.Cache, dst, pkt []byte) ([]byte, engine.Info) {
	if c.n.paused.Load() {
		return nil, engine.Info{Kind: engine.KindError}
	}
	out, info := c.Engine.RespondUDP(cache, dst, pkt)
	c.n.add(false, info.Kind, out == nil)
	return out, info
}

func (c countingEngine) Respond(dst, pkt []byte, tcp bool) []byte {
	if c.n.paused.Load() {
		return nil
	}
	out, k := c.Engine.RespondKind(dst, pkt, tcp)
	c.n.add(tcp, k, out == nil)
	return out
}
