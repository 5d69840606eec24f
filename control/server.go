package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultPath            = "/run/xdpdns/control.sock"
	DefaultMaxRequest      = 64 << 10
	DefaultTimeout         = 5 * time.Second
	DefaultMaxConns        = 16
	DefaultShutdownTimeout = 5 * time.Second
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// Path is the socket's path. Its directory is created (mode 0750)
	// when missing; the socket itself is mode 0600.
	Path string
	// MaxRequest bounds one request line, in bytes.
	MaxRequest int
	// Timeout bounds reading the request and, separately, writing the
	// response. The command itself (a reload of a large zone) is not
	// bounded by it.
	Timeout time.Duration
	// MaxConns is the most connections served at once; beyond it a
	// connection gets an error response and is closed.
	MaxConns int
	// ShutdownTimeout bounds how long Close waits for commands in flight.
	ShutdownTimeout time.Duration
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.MaxRequest <= 0 {
		c.MaxRequest = DefaultMaxRequest
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server serves control requests on a unix socket.
type Server struct {
	cfg Config
	h   Handler
	log *slog.Logger
	ln  *net.UnixListener
	ino uint64 // the socket file's inode, so Close removes only ours
	sem chan struct{}
	// reloads admits reload commands: at most a quarter of MaxConns.
	reloads chan struct{}
	wg      sync.WaitGroup
	done    chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	closeOnce sync.Once
}

// response is the wire form of a reply.
type response struct {
	OK     bool   `json:"ok"`
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Listen creates the socket and starts serving h on it. A socket file
// left by a daemon that is gone is replaced; one that a live process
// answers on is an error.
func Listen(cfg Config, h Handler) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		h:       h,
		log:     cfg.Logger,
		sem:     make(chan struct{}, cfg.MaxConns),
		reloads: make(chan struct{}, max(1, cfg.MaxConns/4)),
		done:    make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	if err := s.listen(); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", cfg.Path, err)
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// listen binds the socket under a temporary name, sets its mode, and
// renames it into place, so that the socket is never reachable with a
// wider mode and a stale socket is replaced in one step.
func (s *Server) listen() error {
	path := s.cfg.Path
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return errors.New("exists and is not a socket")
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return errors.New("in use: another xdpdnsd is running")
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid()))
	if len(tmp) > 107 {
		tmp = path + "~"
	}
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return err
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) error {
		ln.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err == nil {
		s.ino = st.Ino
	}
	s.ln = ln
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.cfg.Path }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("control accept", "err", err)
			time.Sleep(100 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			// Over the limit: say so without reading, and close.
			c.SetWriteDeadline(time.Now().Add(time.Second))
			s.write(c, response{Error: "too many control connections"})
			c.Close()
			continue
		}
		if !s.track(c, true) {
			c.Close()
			<-s.sem
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer s.track(c, false)
			defer c.Close()
			s.serve(c)
		}()
	}
}

// track adds or removes an open connection; adding fails once closed.
func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// serve answers the one request of connection c.
func (s *Server) serve(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(s.cfg.Timeout))
	line, err := readLine(c, s.cfg.MaxRequest)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = errors.New("timed out reading the request")
		}
		s.reply(c, response{Error: err.Error()})
		return
	}
	s.reply(c, s.do(line))
}

// reply writes resp within the write timeout.
func (s *Server) reply(c net.Conn, resp response) {
	c.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
	if err := s.write(c, resp); err != nil {
		s.log.Debug("control write", "err", err)
	}
}

func (s *Server) write(c net.Conn, resp response) error {
	resp.Error = TruncateError(resp.Error)
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(response{Error: "encoding the result: " + err.Error()})
	}
	_, err = c.Write(append(b, '\n'))
	return err
}

// errTooLarge is the reply to a request longer than MaxRequest.
type errTooLarge int

func (e errTooLarge) Error() string { return fmt.Sprintf("request larger than %d bytes", int(e)) }

// readLine reads one request line of at most max bytes (newline not
// counted); a request ended by EOF instead of a newline is accepted.
func readLine(r io.Reader, max int) ([]byte, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, int64(max)+2), 4096)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(bytes.TrimSuffix(line, []byte("\n"))) > max {
			return nil, errTooLarge(max)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, errors.New("empty request")
			}
			return line, nil
		default:
			return nil, err
		}
	}
}

// do decodes and carries out one request.
func (s *Server) do(line []byte) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in control command", "panic", r, "stack", string(debug.Stack()))
			resp = response{Error: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return response{Error: "bad request: " + err.Error()}
	}
	if dec.More() {
		return response{Error: "bad request: more than one JSON value"}
	}
	if req.Cmd == "" {
		return response{Error: `bad request: no "cmd"`}
	}
	if req.Explain != nil && req.Cmd != CmdExplain {
		return response{Error: fmt.Sprintf("%s takes no query", req.Cmd)}
	}
	if req.Zone != "" && req.Cmd != CmdReload && req.Cmd != CmdZoneStatus && req.Cmd != CmdRefresh && req.Cmd != CmdRetransfer {
		return response{Error: fmt.Sprintf("%s takes no zone", req.Cmd)}
	}
	var result any
	switch req.Cmd {
	case CmdReload:
		// Reloads may hold at most a quarter of the connections, so
		// that status, stats and drain always get in.
		select {
		case s.reloads <- struct{}{}:
			defer func() { <-s.reloads }()
		default:
			return response{Error: fmt.Sprintf("%d reloads are already waiting: try again later", cap(s.reloads))}
		}
		s.log.Info("control: reload", "zone", req.Zone)
		r, err := s.h.Reload(req.Zone)
		if err != nil {
			return response{Error: err.Error()}
		}
		result = r
	case CmdStatus:
		result = s.h.Status()
	case CmdStats:
		result = s.h.Stats()
	case CmdDrain, CmdUndrain, CmdBGP:
		bh, ok := s.h.(BGPHandler)
		if !ok {
			return response{Error: "no BGP speaker is configured"}
		}
		var r BGPStatus
		var err error
		switch req.Cmd {
		case CmdDrain:
			s.log.Info("control: drain")
			r, err = bh.Drain()
		case CmdUndrain:
			s.log.Info("control: undrain")
			r, err = bh.Undrain()
		default:
			r, err = bh.BGP()
		}
		if err != nil {
			return response{Error: err.Error()}
		}
		result = r
	case CmdZoneStatus, CmdRefresh, CmdRetransfer:
		sh, ok := s.h.(SecondaryHandler)
		if !ok {
			return response{Error: "this daemon has no secondary zones"}
		}
		if req.Cmd == CmdZoneStatus {
			r, err := sh.ZoneStatus(req.Zone)
			if err != nil {
				return response{Error: err.Error()}
			}
			result = r
			break
		}
		if req.Zone == "" {
			return response{Error: req.Cmd + ": which zone?"}
		}
		s.log.Info("control: "+req.Cmd, "zone", req.Zone)
		if err := sh.Refresh(req.Zone, req.Cmd == CmdRetransfer); err != nil {
			return response{Error: err.Error()}
		}
		result = struct{}{}
	case CmdCookieRotate:
		ch, ok := s.h.(CookieHandler)
		if !ok {
			return response{Error: "this daemon does not answer cookies"}
		}
		s.log.Info("control: cookie secret rotation")
		r, err := ch.RotateCookieSecret(req.Secret)
		if err != nil {
			return response{Error: err.Error()}
		}
		result = r
	case CmdExplain:
		eh, ok := s.h.(ExplainHandler)
		if !ok {
			return response{Error: "this daemon cannot explain queries"}
		}
		if req.Explain == nil {
			return response{Error: "explain: no query"}
		}
		r, err := eh.Explain(*req.Explain)
		if err != nil {
			return response{Error: err.Error()}
		}
		result = r
	default:
		return response{Error: fmt.Sprintf("unknown command %q (want reload, status, stats, drain, undrain, bgp, explain, zone-status, refresh, retransfer or cookie-secret-rotate)", req.Cmd)}
	}
	return response{OK: true, Result: result}
}

// Close stops accepting, closes open connections, waits (at most
// ShutdownTimeout) for commands in flight, and removes the socket file
// unless another process has replaced it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			// Unblock reads; a command in flight still runs to its end.
			c.SetReadDeadline(time.Now())
		}
		s.mu.Unlock()
		s.ln.Close()
		var st syscall.Stat_t
		if err := syscall.Lstat(s.cfg.Path, &st); err == nil && st.Ino == s.ino {
			os.Remove(s.cfg.Path)
		}
		waited := make(chan struct{})
		go func() { s.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(s.cfg.ShutdownTimeout):
			s.log.Warn("control: commands still running at shutdown")
		}
	})
	return nil
}
