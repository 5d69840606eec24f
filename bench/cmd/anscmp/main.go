// Command anscmp records the answers of a DNS server to a sample of the
// bench rig's queries and compares the answers of two servers: the rig's
// cross-server answer check (bench/rig.sh).
//
//	anscmp record -server ADDR -n 200 -out FILE SET=QFILE...
//	anscmp compare [-strict] REF-FILE OTHER-FILE
//
// record sends the first -n lines of each query file (kxdpgun's format,
// "name type [D|E]") over UDP, one at a time, the way kxdpgun sends them:
// RD=1; EDNS with a 1232-byte payload size and DO for a line with D, EDNS
// without DO for E, no EDNS otherwise. It writes one line per query: set,
// line number, the query line and the reply's wire bytes in hex. A query
// unanswered after three tries fails the run.
//
// compare reads two such files (the same sample sent to two servers) and
// compares the replies query by query with the interop package's rules
// (bench/README.md): CompareReplies (rcode, flags, question, EDNS, every
// section as a multiset of records, TTLs included), minus the differences
// interop.Allowances lists (optional additional addresses, NS in the
// authority of positive answers, EDE, ...); -strict allows none (xdpdns
// with XDP against xdpdns without). Both replies must also pass
// interop.CheckReply. Any other difference is printed with the query and
// both replies and makes it exit 1. On success it prints one line:
//
//	compared N identical I allowed A bytes B [allowance=count,...]
//
// where identical counts replies without any difference, allowed those
// that differ only as allowed, and bytes those equal byte for byte (the
// message ID aside).
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/interop"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "record":
		err = record(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "anscmp:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: anscmp record -server ADDR -n N -out FILE SET=QFILE...\n       anscmp compare [-strict] REF-FILE OTHER-FILE")
	os.Exit(2)
}

// parseLine turns a kxdpgun query line into the query kxdpgun sends.
func parseLine(line string) (interop.Query, error) {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return interop.Query{}, fmt.Errorf("bad query line %q", line)
	}
	t, ok := dns.StringToType[strings.ToUpper(f[1])]
	if !ok {
		return interop.Query{}, fmt.Errorf("bad type in %q", line)
	}
	q := interop.Query{Name: dns.Fqdn(f[0]), Type: t, Class: dns.ClassINET, RD: true}
	if len(f) == 3 {
		switch strings.ToUpper(f[2]) {
		case "D":
			q.EDNS, q.DO = true, true
		case "E":
			q.EDNS = true
		default:
			return interop.Query{}, fmt.Errorf("bad flag in %q", line)
		}
		q.UDPSize = 1232
	}
	return q, nil
}

func record(args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	server := fs.String("server", "", "server address (IP:port)")
	n := fs.Int("n", 200, "queries per set (the first lines of each file)")
	out := fs.String("out", "", "output file")
	fs.Parse(args)
	if *server == "" || *out == "" || fs.NArg() == 0 {
		usage()
	}
	raddr, err := net.ResolveUDPAddr("udp", *server)
	if err != nil {
		return err
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	var b bytes.Buffer
	for _, arg := range fs.Args() {
		set, file, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("argument %q: want SET=QFILE", arg)
		}
		lines, err := readLines(file, *n)
		if err != nil {
			return err
		}
		for i, line := range lines {
			q, err := parseLine(line)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", file, i+1, err)
			}
			wire, err := exchange(conn, q)
			if err != nil {
				return fmt.Errorf("%s: %s (%s line %d): %w", *server, q, set, i+1, err)
			}
			fmt.Fprintf(&b, "%s\t%d\t%s\t%s\n", set, i+1, line, hex.EncodeToString(wire))
		}
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

func readLines(file string, n int) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(lines) < n {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// exchange sends q on conn and returns the reply's wire bytes: three tries
// of one second; replies with another ID or question (late answers to an
// earlier try) are skipped.
func exchange(conn *net.UDPConn, q interop.Query) ([]byte, error) {
	buf := make([]byte, 65535)
	var last error = errors.New("no reply")
	for range 3 {
		m := q.Msg()
		wire, err := m.Pack()
		if err != nil {
			return nil, err
		}
		if _, err := conn.Write(wire); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(time.Second)
		for {
			if err := conn.SetReadDeadline(deadline); err != nil {
				return nil, err
			}
			k, err := conn.Read(buf)
			if err != nil {
				last = err
				break
			}
			r := new(dns.Msg)
			if r.Unpack(buf[:k]) != nil || r.Id != m.Id {
				continue
			}
			if len(r.Question) == 1 && !strings.EqualFold(r.Question[0].Name, q.Name) {
				continue
			}
			return slices.Clone(buf[:k]), nil
		}
	}
	return nil, last
}

// entry is one recorded query and reply.
type entry struct {
	key  string // set and line number
	line string
	q    interop.Query
	wire []byte
	msg  *dns.Msg
}

func load(file string) ([]entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 4 {
			return nil, fmt.Errorf("%s:%d: malformed", file, ln)
		}
		q, err := parseLine(p[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, ln, err)
		}
		wire, err := hex.DecodeString(p[3])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, ln, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return nil, fmt.Errorf("%s:%d: reply to %s does not parse: %w", file, ln, q, err)
		}
		es = append(es, entry{key: p[0] + ":" + p[1], line: p[2], q: q, wire: wire, msg: m})
	}
	return es, sc.Err()
}

// serverName is the file name without directory and "answers-" / ".txt".
func serverName(file string) string {
	s := file[strings.LastIndex(file, "/")+1:]
	s = strings.TrimPrefix(s, "answers-")
	return strings.TrimSuffix(s, ".txt")
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	strict := fs.Bool("strict", false, "allow no difference at all")
	maxShown := fs.Int("show", 5, "mismatches shown in full")
	fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
	}
	refFile, otherFile := fs.Arg(0), fs.Arg(1)
	refs, err := load(refFile)
	if err != nil {
		return err
	}
	others, err := load(otherFile)
	if err != nil {
		return err
	}
	if len(refs) != len(others) {
		return fmt.Errorf("%s has %d replies, %s %d", refFile, len(refs), otherFile, len(others))
	}
	refName, otherName := serverName(refFile), serverName(otherFile)
	allowed := interop.Allowances()
	var identical, allowedN, sameBytes, bad int
	used := map[string]int{}
	var report strings.Builder
	for i := range refs {
		a, b := refs[i], others[i]
		if a.key != b.key || a.line != b.line {
			return fmt.Errorf("reply %d: %s asked %q (%s), %s asked %q (%s)", i+1, refName, a.line, a.key, otherName, b.line, b.key)
		}
		ra := interop.Reply{Server: refName, Msg: a.msg, Size: len(a.wire)}
		rb := interop.Reply{Server: otherName, Msg: b.msg, Size: len(b.wire)}
		if len(a.wire) == len(b.wire) && bytes.Equal(a.wire[2:], b.wire[2:]) {
			sameBytes++
		}
		diffs := interop.CompareReplies(ra, rb)
		rest := diffs
		var why []string
		if !*strict {
			rest, why = interop.FilterAllowed(allowed, a.q, a.msg, b.msg, diffs)
		}
		var broken []string
		for _, r := range []interop.Reply{ra, rb} {
			for _, v := range interop.CheckReply(a.q, r) {
				broken = append(broken, r.Server+" breaks: "+v)
			}
		}
		switch {
		case len(rest) > 0 || len(broken) > 0:
			bad++
			if bad <= *maxShown {
				fmt.Fprintf(&report, "\nQUERY %s (%s, %q)\n", a.q, a.key, a.line)
				for _, v := range broken {
					fmt.Fprintf(&report, "  %s\n", v)
				}
				for _, d := range rest {
					fmt.Fprintf(&report, "  %s≠%s %s\n", refName, otherName, d)
				}
				fmt.Fprintf(&report, "%s\n%s\n", interop.Brief(ra), interop.Brief(rb))
			}
		case len(diffs) == 0:
			identical++
		default:
			allowedN++
			for _, w := range slices.Compact(slices.Sorted(slices.Values(why))) {
				used[w]++
			}
		}
	}
	if bad > 0 {
		mode := "allowed differences aside"
		if *strict {
			mode = "no difference allowed"
		}
		fmt.Fprintf(os.Stderr, "%s vs %s: %d of %d replies differ (%s):%s", otherName, refName, bad, len(refs), mode, report.String())
		if bad > *maxShown {
			fmt.Fprintf(os.Stderr, "(%d more not shown)\n", bad-*maxShown)
		}
		os.Exit(1)
	}
	var al []string
	for _, k := range slices.Sorted(maps.Keys(used)) {
		al = append(al, k+"="+strconv.Itoa(used[k]))
	}
	fmt.Printf("compared %d identical %d allowed %d bytes %d %s\n", len(refs), identical, allowedN, sameBytes, strings.Join(al, ","))
	return nil
}
