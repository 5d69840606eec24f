//go:build linux

package loader

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/xdpdns/xdpdns/bpf"
	"github.com/xdpdns/xdpdns/bpf/abi"
)

// LiveView reads single entries of the live generation's maps, as the
// program reads them; View hands one out for the time of a callback.
type LiveView struct {
	g   *generation
	ver uint32 // the version of names and answers entries the live slot reads
}

// View calls fn with a view of the live generation; the generation cannot
// be swapped out or freed until fn returns.
func (l *Loader) View(fn func(v LiveView) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	g := l.gens[l.slot]
	if g == nil {
		return fmt.Errorf("loader: no live generation")
	}
	return fn(LiveView{g: g, ver: l.slot})
}

// lookup reads key from m into val; a missing key is (false, nil).
func lookup(m *ebpf.Map, key, val any) (bool, error) {
	err := m.Lookup(key, val)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("loader: reading %s: %w", m, err)
	}
}

// Name reads the live version of the names entry of k (missing when the
// version says abi.NameFlagAbsent).
func (v LiveView) Name(k bpf.XdpNameKey) (bpf.XdpNameVer, bool, error) {
	ent, ok, err := v.g.names.lookup(k)
	if err != nil || !ok {
		return bpf.XdpNameVer{}, false, err
	}
	ver := unpackName(ent)
	if i, side := sideIndex(ent); side {
		var sv bpf.XdpNameVal
		if ok, err = lookup(v.g.namesSide, i, &sv); err != nil || !ok {
			return bpf.XdpNameVer{}, false, cmp.Or(err, fmt.Errorf("loader: names entry %x: names_side entry %d missing", k, i))
		}
		ver = sv.V[v.ver&1]
	}
	return ver, ver.Flags&abi.NameFlagAbsent == 0, nil
}

// Answer reads the live version of the answers entry of k (missing when
// the version says abi.Absent).
func (v LiveView) Answer(k bpf.XdpNameKey) (bpf.XdpAnswerVer, bool, error) {
	val, ok, err := v.g.answers.lookup(k)
	ver := val.V[v.ver&1]
	return ver, ok && ver.Tmpl[0] != abi.Absent, err
}

// Template reads template id (the live version of a shared one), its body
// from the chunks map (empty for a template flagged abi.FlagTooBig) and
// its relocations (its own and those in its relocation chunk).
func (v LiveView) Template(id uint32) (t bpf.XdpTmpl, body []byte, relocs []uint16, ok bool, err error) {
	if id&abi.SharedTmpl != 0 {
		var tv bpf.XdpTmplVersions
		ok, err = lookup(v.g.sharedTemplates, id&^abi.SharedTmpl, &tv)
		t = tv.V[v.ver&1]
	} else {
		ok, err = lookup(v.g.templates, id, &t)
	}
	if !ok || err != nil || t.Flags&abi.FlagTooBig != 0 {
		return t, nil, nil, ok, err
	}
	relocs, ok = tmplRelocs(&t, func(i uint32) (*bpf.XdpChunk, bool) {
		var c bpf.XdpChunk
		found, lerr := lookup(v.g.chunks, i, &c)
		if lerr != nil {
			err = lerr
		}
		return &c, found && lerr == nil
	})
	if !ok || err != nil {
		return t, nil, nil, false, err
	}
	first := firstPart(&t)
	rest, err := v.body(t.FirstChunk, first-abi.ChunkSize)
	if err != nil {
		return t, nil, nil, false, err
	}
	body = append(append([]byte{}, t.Head[:min(first, abi.ChunkSize)]...), rest...)
	if t.SlotOff == abi.NoSlot {
		return t, body, relocs, true, nil
	}
	tail, err := v.body(t.TailChunk, int(t.BodyLen)-first)
	return t, append(body, tail...), relocs, err == nil, err
}

// body reads n bytes of chunks from chunk first on (none for n <= 0).
func (v LiveView) body(first uint32, n int) ([]byte, error) {
	body := make([]byte, 0, max(n, 0))
	for i := uint32(0); len(body) < n; i++ {
		var c bpf.XdpChunk
		found, err := lookup(v.g.chunks, first+i, &c)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("loader: chunk %d missing", first+i)
		}
		body = append(body, c.B[:min(abi.ChunkSize, n-len(body))]...)
	}
	return body, nil
}

// DenialZone reads denial zone i (the version the live slot reads).
func (v LiveView) DenialZone(i uint16) (bpf.XdpDenialZone, bool, error) {
	var z bpf.XdpDenialZoneVersions
	ok, err := lookup(v.g.denialZones, uint32(i), &z)
	return z.V[v.ver&1], ok, err
}

// DenialIndex reads word i of the denial index.
func (v LiveView) DenialIndex(i uint32) (uint32, bool, error) {
	var x uint32
	ok, err := lookup(v.g.denialIndex, i, &x)
	return x, ok, err
}

// DenialEntry reads denial entry i and its piece's bytes.
func (v LiveView) DenialEntry(i uint32) (bpf.XdpDenialEntry, []byte, bool, error) {
	var e bpf.XdpDenialEntry
	ok, err := lookup(v.g.denialEntries, i, &e)
	if !ok || err != nil {
		return e, nil, ok, err
	}
	body, err := v.body(e.FirstChunk, int(e.Len))
	return e, body, err == nil, err
}
