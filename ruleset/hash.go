package ruleset

import (
	"encoding/json"
	"math"
	"strconv"
)

// Hash returns the murmur3 x86 32-bit hash (seed 0) of the UTF-8 bytes of
// salt + "/" + value, as docs/repository.md specifies for every SDK. It does not
// allocate: the three parts are hashed as one stream without being joined.
func Hash(salt, value string) uint32 {
	return saltState(salt).writeString(value).sum()
}

// Bucket maps Hash(salt, value) to a bucket in [0, 100000): one per
// thousandth of a percent, so that a rollout weight of 25% (25000) takes the
// buckets below 25000.
func Bucket(salt, value string) int {
	return bucketOf(Hash(salt, value))
}

func bucketOf(h uint32) int {
	return int((uint64(h) * 100000) >> 32)
}

// maxCanonical bounds the canonical form of a number: 'f' formatting of a
// float64 can be up to about 330 bytes (1e308).
const maxCanonical = 400

// canonicalBucket buckets a context value, on a murmur primed with the
// salt, by its canonical string form: strings as they are, numbers as
// strconv 'f' -1 (integers in decimal), booleans as "true"/"false". ok is
// false for nil and other types.
func canonicalBucket(salt murmur, v any) (bucket int, ok bool) {
	if s, isStr := v.(string); isStr {
		return bucketOf(salt.writeString(s).sum()), true
	}
	return canonicalBucketSlow(salt, v)
}

// canonicalBucketSlow handles non-string values; kept apart so that the
// string path does not pay for the formatting buffer.
func canonicalBucketSlow(salt murmur, v any) (bucket int, ok bool) {
	var buf [maxCanonical]byte
	b, ok := appendCanonical(buf[:0], v)
	if !ok {
		return 0, false
	}
	return bucketOf(salt.writeBytes(b).sum()), true
}

// appendCanonical appends the canonical string form of a non-string
// context value to b.
func appendCanonical(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), true
	case float64:
		return appendFloat(b, x), true
	case float32:
		return strconv.AppendFloat(b, float64(x), 'f', -1, 32), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case uintptr:
		return strconv.AppendUint(b, uint64(x), 10), true
	case json.Number:
		f, ok := toFloat(x)
		if !ok {
			return b, false
		}
		return appendFloat(b, f), true
	}
	return b, false
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// toFloat converts a numeric context value to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uintptr:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	return 0, false
}
