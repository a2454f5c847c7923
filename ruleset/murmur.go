package ruleset

import "math/bits"

// murmur is a streaming murmur3 x86 32-bit hash with seed 0, small enough to
// live in registers: Hash feeds it salt, "/" and value without joining them,
// and compiled flags keep it primed with "<flag>/" so that evaluation only
// hashes the value. Tests check it against github.com/twmb/murmur3.
type murmur struct {
	h1    uint32
	tail  uint32 // up to 3 pending bytes, little endian
	ntail uint32
	n     uint32 // bytes written
}

const (
	murmurC1 = 0xcc9e2d51
	murmurC2 = 0x1b873593
)

// writeString returns the state after hashing s.
func (m murmur) writeString(s string) murmur { return murmurWrite(m, s) }

// writeBytes returns the state after hashing b.
func (m murmur) writeBytes(b []byte) murmur { return murmurWrite(m, b) }

func murmurWrite[T ~string | ~[]byte](m murmur, s T) murmur {
	m.n += uint32(len(s))
	for m.ntail != 0 && len(s) > 0 {
		m.tail |= uint32(s[0]) << (8 * m.ntail)
		s = s[1:]
		if m.ntail++; m.ntail == 4 {
			m.h1 = murmurBlock(m.h1, m.tail)
			m.tail, m.ntail = 0, 0
		}
	}
	for len(s) >= 4 {
		k := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		m.h1 = murmurBlock(m.h1, k)
		s = s[4:]
	}
	for i := 0; i < len(s); i++ {
		m.tail |= uint32(s[i]) << (8 * m.ntail)
		m.ntail++
	}
	return m
}

func murmurBlock(h1, k uint32) uint32 {
	k *= murmurC1
	k = bits.RotateLeft32(k, 15)
	k *= murmurC2
	h1 ^= k
	h1 = bits.RotateLeft32(h1, 13)
	return h1*5 + 0xe6546b64
}

// sum finishes the hash.
func (m murmur) sum() uint32 {
	h1 := m.h1
	if m.ntail > 0 {
		k := m.tail * murmurC1
		k = bits.RotateLeft32(k, 15)
		k *= murmurC2
		h1 ^= k
	}
	h1 ^= m.n
	h1 ^= h1 >> 16
	h1 *= 0x85ebca6b
	h1 ^= h1 >> 13
	h1 *= 0xc2b2ae35
	h1 ^= h1 >> 16
	return h1
}

// saltState primes a murmur with salt + "/".
func saltState(salt string) murmur {
	return murmur{}.writeString(salt).writeString("/")
}
