package abi

// NameHash identifies a lower-case wire name in the XDP maps: two 64-bit
// hashes computed over the name's bytes from the last to the first, so
// that a suffix's hash is a prefix of the computation of a longer name's.
// The C side (hash_suffixes in bpf/include/query.h) computes the same;
// the XDP maps' name keys and the rate limiter's bucket names use it.
type NameHash struct{ H1, H2 uint64 }

// Step extends a hash by one byte (moving towards the name's start).
func (h NameHash) Step(c byte) NameHash {
	return NameHash{H1: (h.H1 ^ uint64(c)) * HashH1Prime, H2: (h.H2^uint64(c))*HashH2Mult + 1}
}

// HashBasis is the hash of the empty byte string, where every name's
// computation starts.
var HashBasis = NameHash{H1: HashH1Basis, H2: HashH2Basis}

// HashName hashes a whole lower-case wire name.
func HashName(lower []byte) NameHash {
	h := HashBasis
	for i := len(lower) - 1; i >= 0; i-- {
		h = h.Step(lower[i])
	}
	return h
}

// AnswerKey is the key of the answers table entry for the name hash h,
// qtype and mode (ModeExact, ModeBelow, ModeChaos): h with
// ((qtype << 2 | mode) + 1) * AnswerKeyMult added to H1, as answer_probe
// (bpf/include/lookup.h) makes it.
func AnswerKey(h NameHash, qtype, mode uint16) NameHash {
	return NameHash{H1: h.H1 + ((uint64(qtype)<<2|uint64(mode&3))+1)*AnswerKeyMult, H2: h.H2}
}
