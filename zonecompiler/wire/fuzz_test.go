package wire

import (
	"bytes"
	"testing"
)

func FuzzParseQuery(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1})
	f.Add([]byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var q Query
		err := ParseQuery(pkt, &q)
		if err != nil && q.Reason == "" {
			t.Fatalf("error %v without a reason", err)
		}
		if err == nil {
			if len(q.QName) == 0 || len(q.QName) > MaxNameLen || q.QName[len(q.QName)-1] != 0 {
				t.Fatalf("accepted bad qname %x", q.QName)
			}
			if !bytes.Equal(ToLower(q.QName), q.QLower) {
				t.Fatalf("QLower is not QName lower-cased")
			}
		}
	})
}
