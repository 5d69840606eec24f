package cookie

import (
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/dchest/siphash"
)

// TestRFC9018Vectors: the examples of RFC 9018 Appendix A, made and
// verified, and the cookies the appendix has clients return verified
// (A.3's with reserved bytes another implementation set, A.4's made with
// the previous secret after a rotation).
func TestRFC9018Vectors(t *testing.T) {
	k1, _ := ParseSecret("e5e973e5a6b2a43f48e7dc849e37bfcf")
	k2, _ := ParseSecret("445536bcd2513298075a5d379663c962")
	old, _ := ParseSecret("dd3bdf9344b678b185a6f5cb60fca715")
	for _, v := range []struct {
		k          Secret
		cc, client string
		ts         uint32
		want       string
	}{
		{k1, "2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480"},
		{k1, "2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77"},
		{k1, "fc93fc62807ddb86", "203.0.113.203", 1559734700, "010000005cf7a9acf73a7810aca2381e"},
		{k2, "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, "010000005cf7c609a6bb79d16625507a"},
	} {
		k := v.k
		var cc [ClientLen]byte
		hex.Decode(cc[:], []byte(v.cc))
		got := Server(k, cc, netip.MustParseAddr(v.client), v.ts)
		if hex.EncodeToString(got[:]) != v.want {
			t.Errorf("client %s: server cookie %x, want %s", v.client, got, v.want)
		}
		if !Valid(got[:], cc, netip.MustParseAddr(v.client), v.ts+10, k) {
			t.Errorf("client %s: its own cookie does not verify", v.client)
		}
	}
	for _, v := range []struct {
		cookie, client string
		now            uint32
		keys           []Secret
		ok             bool
	}{
		{"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559727985 + 600, []Secret{k1}, true},
		{"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.204", 1559727985 + 600, []Secret{k1}, false},
		{"22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, []Secret{k2, old}, true},
		{"22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, []Secret{k2}, false},
	} {
		b, _ := hex.DecodeString(v.cookie)
		if got := Valid(b[ClientLen:], [ClientLen]byte(b[:ClientLen]), netip.MustParseAddr(v.client), v.now, v.keys[0], v.keys[1:]...); got != v.ok {
			t.Errorf("cookie %s from %s: valid %v, want %v", v.cookie, v.client, got, v.ok)
		}
	}
}

// TestSipHashIndependent: the SipHash-2-4 here agrees with an independent
// implementation (github.com/dchest/siphash) on random keys and messages
// of every length up to 64.
func TestSipHashIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for n := 0; n <= 64; n++ {
		for i := 0; i < 20; i++ {
			var k Secret
			for j := range k {
				k[j] = byte(rng.Uint32())
			}
			msg := make([]byte, n)
			for j := range msg {
				msg[j] = byte(rng.Uint32())
			}
			if got, want := SipHash24(k, msg), siphashKey(k)(msg); got != want {
				t.Fatalf("length %d: %x, independent %x", n, got, want)
			}
		}
	}
}

func siphashKey(k Secret) func([]byte) uint64 {
	k0 := uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24 | uint64(k[4])<<32 | uint64(k[5])<<40 | uint64(k[6])<<48 | uint64(k[7])<<56
	k1 := uint64(k[8]) | uint64(k[9])<<8 | uint64(k[10])<<16 | uint64(k[11])<<24 | uint64(k[12])<<32 | uint64(k[13])<<40 | uint64(k[14])<<48 | uint64(k[15])<<56
	return func(m []byte) uint64 { return siphash.Hash(k0, k1, m) }
}

// TestValid: a cookie verifies for its client, its client cookie and the
// secrets given, within an hour in the past and five minutes ahead.
func TestValid(t *testing.T) {
	k1, _ := ParseSecret("000102030405060708090a0b0c0d0e0f")
	k2, _ := ParseSecret("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	cc := [ClientLen]byte{1, 2, 3, 4, 5, 6, 7, 8}
	a := netip.MustParseAddr("192.0.2.1")
	const now = 1_700_000_000
	sc := Server(k1, cc, a, now)
	for _, c := range []struct {
		desc string
		ok   bool
		sc   []byte
		cc   [ClientLen]byte
		a    netip.Addr
		now  uint32
		keys []Secret
	}{
		{"fresh", true, sc[:], cc, a, now, []Secret{k1}},
		{"mapped address", true, sc[:], cc, netip.MustParseAddr("::ffff:192.0.2.1"), now, []Secret{k1}},
		{"59 minutes old", true, sc[:], cc, a, now + 3540, []Secret{k1}},
		{"61 minutes old", false, sc[:], cc, a, now + 3660, []Secret{k1}},
		{"4 minutes ahead", true, sc[:], cc, a, now - 240, []Secret{k1}},
		{"6 minutes ahead", false, sc[:], cc, a, now - 360, []Secret{k1}},
		{"previous secret", true, sc[:], cc, a, now, []Secret{k2, k1}},
		{"unknown secret", false, sc[:], cc, a, now, []Secret{k2}},
		{"other client", false, sc[:], cc, netip.MustParseAddr("192.0.2.2"), now, []Secret{k1}},
		{"other client cookie", false, sc[:], [ClientLen]byte{9}, a, now, []Secret{k1}},
		{"short", false, sc[:15], cc, a, now, []Secret{k1}},
		{"version 2", false, append([]byte{2}, sc[1:]...), cc, a, now, []Secret{k1}},
		{"reserved bytes changed", false, append([]byte{1, 9}, sc[2:]...), cc, a, now, []Secret{k1}},
	} {
		if got := Valid(c.sc, c.cc, c.a, c.now, c.keys[0], c.keys[1:]...); got != c.ok {
			t.Errorf("%s: valid %v, want %v", c.desc, got, c.ok)
		}
	}
	if _, err := ParseSecret("0011"); err == nil {
		t.Error("a 16-bit secret was accepted")
	}
}
