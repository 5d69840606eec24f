package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// DefaultReloadTimeout is how long the daemon may spend loading the zones
// of one reload, unless configured (reload-timeout): the bound a client
// waits for.
const DefaultReloadTimeout = 5 * time.Minute

// DefaultWait is how long a client waits for a command's response by
// default: longer than a reload may take.
const DefaultWait = DefaultReloadTimeout + time.Minute

// maxResponse bounds a response the client reads (status of many zones).
const maxResponse = 256 << 20

// ErrNotRunning means nothing listens on the control socket: the daemon
// is not running, or runs without a control socket, or with another path.
var ErrNotRunning = errors.New("xdpdnsd is not running")

// Error is a command the daemon refused or that failed; its text is the
// daemon's reason (file:line: reason for a zone that does not load).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Client talks to a control server.
type Client struct {
	// Path is the socket's path; "" means DefaultPath.
	Path string
	// Timeout bounds connecting and sending the request; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Wait bounds waiting for the response; 0 means DefaultWait.
	Wait time.Duration
}

func (c *Client) path() string {
	if c.Path == "" {
		return DefaultPath
	}
	return c.Path
}

// Call sends one request and returns the raw JSON result. A refusal by
// the daemon is an *Error; a daemon that cannot be reached is an error
// wrapping ErrNotRunning (no socket, or nothing listening) or the dial
// error (permission denied, for example).
func (c *Client) Call(req Request) (json.RawMessage, error) {
	timeout, wait := c.Timeout, c.Wait
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	conn, err := net.DialTimeout("unix", c.path(), timeout)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (nothing listens on %s)", ErrNotRunning, c.path())
		}
		return nil, fmt.Errorf("connecting to %s: %w", c.path(), err)
	}
	defer conn.Close()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	_, werr := conn.Write(append(b, '\n'))
	// Even if the write failed the server may have answered (a request
	// it refused before reading it all): read the response regardless.
	conn.SetReadDeadline(time.Now().Add(wait))
	var resp struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	line, rerr := bufio.NewReader(io.LimitReader(conn, maxResponse)).ReadBytes('\n')
	if len(line) == 0 || rerr != nil && !errors.Is(rerr, io.EOF) {
		if werr != nil {
			return nil, fmt.Errorf("sending the request: %w", werr)
		}
		if rerr == nil || errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading the response: %w", rerr)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("bad response: %w", err)
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "failed without a reason"
		}
		return nil, &Error{Msg: resp.Error}
	}
	return resp.Result, nil
}

// call runs a command and decodes its result into out.
func (c *Client) call(req Request, out any) error {
	raw, err := c.Call(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("bad %s result: %w", req.Cmd, err)
	}
	return nil
}

// Reload reloads one zone, or every zone when zone is "".
func (c *Client) Reload(zone string) (ReloadResult, error) {
	var r ReloadResult
	err := c.call(Request{Cmd: CmdReload, Zone: zone}, &r)
	return r, err
}

// Status returns the daemon's status.
func (c *Client) Status() (Status, error) {
	var s Status
	err := c.call(Request{Cmd: CmdStatus}, &s)
	return s, err
}

// Stats returns the daemon's counters.
func (c *Client) Stats() (Stats, error) {
	var s Stats
	err := c.call(Request{Cmd: CmdStats}, &s)
	return s, err
}

// ZoneStatus returns the state of zone, or of every zone when "".
func (c *Client) ZoneStatus(zone string) ([]ZoneState, error) {
	var r []ZoneState
	err := c.call(Request{Cmd: CmdZoneStatus, Zone: zone}, &r)
	return r, err
}

// Refresh asks the secondary zone to check its primaries now, or (full)
// to transfer the whole zone now.
func (c *Client) Refresh(zone string, full bool) error {
	cmd := CmdRefresh
	if full {
		cmd = CmdRetransfer
	}
	var r struct{}
	return c.call(Request{Cmd: cmd, Zone: zone}, &r)
}

// RotateCookieSecret makes secret (hex; "": a random one) the current DNS
// Cookie server secret.
func (c *Client) RotateCookieSecret(secret string) (CookieRotation, error) {
	var r CookieRotation
	err := c.call(Request{Cmd: CmdCookieRotate, Secret: secret}, &r)
	return r, err
}

// Explain asks which path would answer q and how.
func (c *Client) Explain(q ExplainQuery) (ExplainResult, error) {
	var r ExplainResult
	err := c.call(Request{Cmd: CmdExplain, Explain: &q}, &r)
	return r, err
}

// Drain withdraws the anycast routes until Undrain.
func (c *Client) Drain() (BGPStatus, error) { return c.bgp(CmdDrain) }

// Undrain lets the health state decide the announcement again.
func (c *Client) Undrain() (BGPStatus, error) { return c.bgp(CmdUndrain) }

// BGP describes the BGP speaker, its peers and the health checks.
func (c *Client) BGP() (BGPStatus, error) { return c.bgp(CmdBGP) }

func (c *Client) bgp(cmd string) (BGPStatus, error) {
	var s BGPStatus
	err := c.call(Request{Cmd: cmd}, &s)
	return s, err
}
