package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xdpdns/xdpdns/control"
)

// cmdExplain: explain NAME TYPE [CH] [+do] [+tcp] [+bufsize=N] [+noedns]:
// which path would answer the query (the XDP program with the map
// entries it reads, or userspace with the reason), and the answer.
func cmdExplain(c *control.Client, asJSON bool, args []string, w io.Writer) error {
	q, err := parseExplain(args)
	if err != nil {
		return err
	}
	if asJSON {
		return callJSON(c, control.Request{Cmd: control.CmdExplain, Explain: &q}, w)
	}
	r, err := c.Explain(q)
	if err != nil {
		return err
	}
	tw := newTable(w)
	switch x := r.XDP; {
	case r.Path == control.PathXDP:
		where := "XDP (XDP_TX)"
		if x.TCIngress {
			where += ", or the tc ingress companion when the frame cannot grow to the reply (generic XDP, veth)"
		}
		fmt.Fprintf(tw, "path\t%s\n", where)
	default:
		fmt.Fprintf(tw, "path\tuserspace: %s\n", r.Reason)
	}
	if r.Kind != "" {
		fmt.Fprintf(tw, "kind\t%s\n", r.Kind)
	}
	if x := r.XDP; x != nil {
		entry := "the name's default"
		if x.Typed {
			entry = "a per-type answers entry"
		}
		fmt.Fprintf(tw, "names\t%s (hash %s), %s match\n", x.Name, x.NameHash, x.Mode)
		if x.TemplateID != 0 {
			tc := ""
			if x.Truncated {
				tc = ", sent truncated (TC=1)"
			}
			fmt.Fprintf(tw, "template\t%d from %s, %d body bytes%s\n", x.TemplateID, entry, x.BodyLen, tc)
			if x.Denial != "" {
				fmt.Fprintf(tw, "denial\t%s\n", x.Denial)
			}
		} else {
			fmt.Fprintf(tw, "template\tnone (%s says: answer in userspace)\n", entry)
		}
		fmt.Fprintf(tw, "generation\t%d\n", x.Generation)
	}
	tw.Flush()
	_, err = fmt.Fprintf(w, "\n%s\n", strings.TrimRight(r.Answer, "\n"))
	return err
}

// parseExplain reads NAME TYPE [CLASS] and dig-like +options.
func parseExplain(args []string) (control.ExplainQuery, error) {
	var q control.ExplainQuery
	var pos []string
	for _, a := range args {
		if !strings.HasPrefix(a, "+") {
			pos = append(pos, a)
			continue
		}
		opt, val, hasVal := strings.Cut(strings.ToLower(a[1:]), "=")
		switch {
		case opt == "do" || opt == "dnssec":
			q.DO = true
		case opt == "tcp" || opt == "vc":
			q.TCP = true
		case opt == "noedns":
			q.NoEDNS = true
		case opt == "nsid":
			q.NSID = true
		case opt == "bufsize" && hasVal:
			n, err := strconv.ParseUint(val, 10, 16)
			if err != nil || n < 512 {
				return q, usageError{fmt.Sprintf("+bufsize=%s: want 512 to 65535", val)}
			}
			q.BufSize = uint16(n)
		default:
			return q, usageError{fmt.Sprintf("unknown option %s (want +do, +tcp, +bufsize=N, +noedns, +nsid)", a)}
		}
	}
	switch len(pos) {
	case 2:
		q.Name, q.Type = pos[0], pos[1]
	case 3:
		q.Name, q.Type, q.Class = pos[0], pos[1], pos[2]
	default:
		return q, usageError{"want NAME TYPE [CLASS] [+do] [+tcp] [+bufsize=N] [+noedns] [+nsid]"}
	}
	return q, nil
}
