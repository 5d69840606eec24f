// Package tap writes dnstap (https://dnstap.info) messages of the queries a
// node answers, on both paths: the userspace server (server.Tap) and the
// XDP program and its tc companion (samples read from a BPF ring buffer by
// the loader). Each answered query becomes an AUTH_QUERY and an
// AUTH_RESPONSE message with addresses, ports, times and wire bytes; the
// message's extra field says which path answered ("path=xdp",
// "path=tc_ingress", "path=userspace"). Output goes to a frame-streams
// unix socket (a collector such as dnstap or Knot's, reconnected as
// needed) or a file, through a bounded queue that drops, and counts,
// rather than ever slowing the server down.
package tap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

	"github.com/xdpdns/xdpdns/server"
)

// Paths of the messages' extra field.
const (
	PathUserspace = "userspace"
	PathXDP       = "xdp"
	PathTC        = "tc_ingress"
)

// QueueLen is how many encoded messages wait for the output; beyond it
// messages are dropped (Dropped).
const QueueLen = 4096

// Config configures a Writer.
type Config struct {
	// Socket is a frame-streams unix socket to send to; File a file to
	// write. Exactly one.
	Socket, File string
	// Sample takes one query in Sample (1: every one) on the userspace
	// path; the XDP program samples on its own (loader.Options).
	Sample uint64
	// Identity and Version fill the messages' identity and version.
	Identity, Version string
}

// output is the part of golang-dnstap's outputs the writer uses.
type output interface {
	GetOutputChannel() chan []byte
	RunOutputLoop()
	Close()
}

// Writer encodes and queues messages. It implements server.Tap.
type Writer struct {
	cfg     Config
	out     output
	queue   chan []byte
	seen    atomic.Uint64
	written atomic.Uint64
	dropped atomic.Uint64
	done    chan struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
}

// New opens the output and starts writing.
func New(cfg Config) (*Writer, error) {
	if (cfg.Socket == "") == (cfg.File == "") {
		return nil, errors.New("tap: want exactly one of a socket and a file")
	}
	if cfg.Sample == 0 {
		cfg.Sample = 1
	}
	var out output
	var err error
	if cfg.Socket != "" {
		out, err = dnstap.NewFrameStreamSockOutput(&net.UnixAddr{Name: cfg.Socket, Net: "unix"})
	} else {
		out, err = dnstap.NewFrameStreamOutputFromFilename(cfg.File)
	}
	if err != nil {
		return nil, fmt.Errorf("tap: opening the output: %w", err)
	}
	w := &Writer{cfg: cfg, out: out, queue: make(chan []byte, QueueLen), done: make(chan struct{})}
	w.wg.Add(2)
	go func() { defer w.wg.Done(); out.RunOutputLoop() }()
	go w.forward()
	return w, nil
}

// forward moves queued messages to the output until Close.
func (w *Writer) forward() {
	defer w.wg.Done()
	ch := w.out.GetOutputChannel()
	for {
		select {
		case b := <-w.queue:
			ch <- b
			w.written.Add(1)
		case <-w.done:
			for {
				select {
				case b := <-w.queue:
					ch <- b
					w.written.Add(1)
				default:
					w.out.Close() // flushes and waits for the output loop
					return
				}
			}
		}
	}
}

// Close flushes what is queued and closes the output; later calls do
// nothing.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.done)
		w.wg.Wait()
	})
	return nil
}

// Sampled takes one userspace query in Config.Sample.
func (w *Writer) Sampled() bool { return w.seen.Add(1)%w.cfg.Sample == 0 }

// Observed writes a userspace query and its reply.
func (w *Writer) Observed(o server.Observation) {
	protocol := dnstap.SocketProtocol_UDP
	if o.TCP {
		protocol = dnstap.SocketProtocol_TCP
	}
	w.Event(Event{Path: PathUserspace, Protocol: protocol, Client: o.Client, Server: o.Server,
		QueryTime: o.Received, ReplyTime: time.Now(), Query: o.Query, Reply: o.Reply})
}

// Event is one answered query, from any path.
type Event struct {
	Path                 string
	Protocol             dnstap.SocketProtocol
	Client, Server       netip.AddrPort
	QueryTime, ReplyTime time.Time
	// Query and Reply are the DNS messages, or their first bytes (XDP
	// samples); copied before Event returns.
	Query, Reply []byte
}

// Event encodes e as an AUTH_QUERY and an AUTH_RESPONSE message and queues
// them; when the queue is full they are dropped and counted.
func (w *Writer) Event(e Event) {
	family := dnstap.SocketFamily_INET6
	if e.Client.Addr().Unmap().Is4() {
		family = dnstap.SocketFamily_INET
	}
	client, server := addrBytes(e.Client.Addr()), addrBytes(e.Server.Addr())
	cport, sport := uint32(e.Client.Port()), uint32(e.Server.Port())
	extra := []byte("path=" + e.Path)
	for _, m := range []*dnstap.Message{
		{
			Type: dnstap.Message_AUTH_QUERY.Enum(), SocketFamily: family.Enum(), SocketProtocol: e.Protocol.Enum(),
			QueryAddress: client, QueryPort: &cport, ResponseAddress: server, ResponsePort: &sport,
			QueryTimeSec: secs(e.QueryTime), QueryTimeNsec: nsecs(e.QueryTime), QueryMessage: clone(e.Query),
		},
		{
			Type: dnstap.Message_AUTH_RESPONSE.Enum(), SocketFamily: family.Enum(), SocketProtocol: e.Protocol.Enum(),
			QueryAddress: client, QueryPort: &cport, ResponseAddress: server, ResponsePort: &sport,
			QueryTimeSec: secs(e.QueryTime), QueryTimeNsec: nsecs(e.QueryTime),
			ResponseTimeSec: secs(e.ReplyTime), ResponseTimeNsec: nsecs(e.ReplyTime), ResponseMessage: clone(e.Reply),
		},
	} {
		dt := &dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Message: m, Extra: extra}
		if w.cfg.Identity != "" {
			dt.Identity = []byte(w.cfg.Identity)
		}
		if w.cfg.Version != "" {
			dt.Version = []byte(w.cfg.Version)
		}
		b, err := proto.Marshal(dt)
		if err != nil {
			w.dropped.Add(1)
			continue
		}
		select {
		case w.queue <- b:
		default:
			w.dropped.Add(1)
		}
	}
}

// Counters returns the messages written and dropped (queue full).
func (w *Writer) Counters() (written, dropped uint64) { return w.written.Load(), w.dropped.Load() }

func addrBytes(a netip.Addr) []byte {
	a = a.Unmap()
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func secs(t time.Time) *uint64 {
	v := uint64(t.Unix())
	return &v
}

func nsecs(t time.Time) *uint32 {
	v := uint32(t.Nanosecond())
	return &v
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
