package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/xdpdns/xdpdns/bpf/abi"
	"github.com/xdpdns/xdpdns/control"
	"github.com/xdpdns/xdpdns/zonecompiler/render"
)

// Explainer is implemented by hot paths that can say what the XDP program
// decides for a query from the live maps (daemon/hotpath).
type Explainer interface {
	Explain(query []byte) (render.Decision, error)
}

// Explain builds the query q describes, answers it with the engine, and
// says which path would send that answer: the XDP program (with the map
// entries it reads, from the live generation) or userspace (with the
// program's pass reason). It is xdpdnsctl explain.
func (d *Daemon) Explain(q control.ExplainQuery) (control.ExplainResult, error) {
	pkt, err := ExplainPacket(q)
	if err != nil {
		return control.ExplainResult{}, err
	}
	wireReply, kind := d.eng.RespondKind(nil, pkt, q.TCP)
	res := control.ExplainResult{Path: control.PathUserspace, Kind: kind.String()}
	if wireReply == nil {
		res.Answer = ";; no reply is sent"
	} else {
		m := new(dns.Msg)
		if err := m.Unpack(wireReply); err != nil {
			return res, fmt.Errorf("explain: the engine's reply does not parse: %w", err)
		}
		res.Answer = m.String()
	}
	hot := d.hotPath()
	ex, canExplain := hot.(Explainer)
	switch {
	case q.TCP:
		res.Reason = "over TCP: the XDP program answers UDP only"
		return res, nil
	case hot == nil:
		res.Reason = "XDP is off"
		return res, nil
	case !canExplain:
		res.Reason = "this hot path cannot explain its decisions"
		return res, nil
	}
	dec, err := ex.Explain(pkt)
	if err != nil {
		return res, fmt.Errorf("explain: reading the XDP maps: %w", err)
	}
	x := &control.ExplainXDP{
		Name:       suffixName(q.Name, dec.Labels),
		NameHash:   fmt.Sprintf("%016x%016x", dec.Name.H1, dec.Name.H2),
		Mode:       map[uint16]string{abi.ModeExact: "exact", abi.ModeBelow: "below", abi.ModeChaos: "chaos"}[dec.Mode],
		Typed:      dec.Typed,
		TemplateID: dec.TemplateID,
		Truncated:  dec.TC,
		Denial:     dec.Denial,
		Generation: hot.Generation(),
	}
	if dec.Template != nil {
		x.BodyLen = dec.Template.BodyLen
	}
	for _, a := range hot.Attachments() {
		x.TCIngress = x.TCIngress || a.TCIngress
	}
	res.XDP = x
	if dec.Reply == nil {
		res.Reason = dec.Reason
		return res, nil
	}
	if string(dec.Reply[2:]) != string(wireReply[2:]) {
		// One source of truth: never expected; say so loudly.
		return res, fmt.Errorf("explain: the XDP template's reply differs from the engine's (template %d): please report", dec.TemplateID)
	}
	res.Path = control.PathXDP
	if k := int(dec.Template.Kind); k < len(abi.KindNames) {
		res.Kind = abi.KindNames[k] // what answer.KIND counts
	}
	return res, nil
}

// ExplainPacket packs the query q describes, as a resolver would send it
// (fixed ID, RD clear): the bytes Explain decides on.
func ExplainPacket(q control.ExplainQuery) ([]byte, error) {
	qtype, ok := dns.StringToType[strings.ToUpper(q.Type)]
	if !ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(q.Type), "TYPE"), 10, 16)
		if err != nil || !strings.HasPrefix(strings.ToUpper(q.Type), "TYPE") {
			return nil, fmt.Errorf("explain: unknown type %q", q.Type)
		}
		qtype = uint16(n)
	}
	class := uint16(dns.ClassINET)
	switch strings.ToUpper(q.Class) {
	case "", "IN":
	case "CH", "CHAOS":
		class = dns.ClassCHAOS
	default:
		return nil, fmt.Errorf("explain: class %q: want IN or CH", q.Class)
	}
	if _, ok := dns.IsDomainName(q.Name); !ok {
		return nil, fmt.Errorf("explain: %q is not a domain name", q.Name)
	}
	m := new(dns.Msg)
	m.Id = 0x5844 // fixed, so explanations compare
	m.Question = []dns.Question{{Name: dns.Fqdn(q.Name), Qtype: qtype, Qclass: class}}
	if !q.NoEDNS {
		size := q.BufSize
		if size == 0 {
			size = 1232
		}
		m.SetEdns0(size, q.DO)
		if q.NSID {
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
	}
	return m.Pack()
}

// suffixName is the last labels labels of name, as a name.
func suffixName(name string, labels int) string {
	all := dns.SplitDomainName(dns.Fqdn(name))
	if labels > len(all) || labels < 0 {
		return dns.Fqdn(name)
	}
	if labels == 0 {
		return "."
	}
	return dns.Fqdn(strings.Join(all[len(all)-labels:], "."))
}
