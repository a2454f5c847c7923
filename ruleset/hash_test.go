package ruleset

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/murmur3"
)

func TestHashReferenceVectors(t *testing.T) {
	tests := []struct {
		salt, value string
		hash        uint32
		bucket      int
	}{
		{"checkout-v2", "user-1", 2846312092, 66270},
		{"checkout-v2", "user-2", 2473084300, 57580},
		{"west-coast-student-banner", "juan", 654158569, 15230},
		{"checkout-v2/recovery", "user-1", 3721753393, 86653},
		{"ünïcode-flag", "usér", 728416136, 16959},
		{"", "", 1248550479, 29070},
	}
	for _, tt := range tests {
		t.Run(tt.salt+"/"+tt.value, func(t *testing.T) {
			if got := Hash(tt.salt, tt.value); got != tt.hash {
				t.Errorf("Hash(%q, %q) = %d, want %d", tt.salt, tt.value, got, tt.hash)
			}
			if got := Bucket(tt.salt, tt.value); got != tt.bucket {
				t.Errorf("Bucket(%q, %q) = %d, want %d", tt.salt, tt.value, got, tt.bucket)
			}
		})
	}
}

func TestHashLongValues(t *testing.T) {
	for _, n := range []int{0, 1, 200, 254, 255, 256, 257, 1000, 5000} {
		salt, value := "flag", strings.Repeat("x", n)
		want := murmur3.StringSum32(salt + "/" + value)
		if got := Hash(salt, value); got != want {
			t.Errorf("len %d: Hash = %d, want %d", n, got, want)
		}
		if got, want := bucketOf(saltState(salt).writeBytes([]byte(value)).sum()), bucketOf(want); got != want {
			t.Errorf("len %d: writeBytes bucket = %d, want %d", n, got, want)
		}
	}
}

func TestCanonicalBucket(t *testing.T) {
	tests := []struct {
		name  string
		value any
		form  string
		ok    bool
	}{
		{"string", "user-1", "user-1", true},
		{"float integer", 42.0, "42", true},
		{"float fraction", 0.1, "0.1", true},
		{"float large", 1e21, "1000000000000000000000", true},
		{"float negative", -2.5, "-2.5", true},
		{"float32", float32(0.1), "0.1", true},
		{"int", 42, "42", true},
		{"int8", int8(-3), "-3", true},
		{"int16", int16(300), "300", true},
		{"int32", int32(7), "7", true},
		{"int64", int64(-9007199254740993), "-9007199254740993", true},
		{"uint", uint(5), "5", true},
		{"uint8", uint8(255), "255", true},
		{"uint16", uint16(65535), "65535", true},
		{"uint32", uint32(1), "1", true},
		{"uint64", uint64(18446744073709551615), "18446744073709551615", true},
		{"json number", json.Number("12.50"), "12.5", true},
		{"true", true, "true", true},
		{"false", false, "false", true},
		{"nil", nil, "", false},
		{"slice", []string{"a"}, "", false},
		{"map", map[string]any{}, "", false},
		{"bad json number", json.Number("x"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := canonicalBucket(saltState("salt"), tt.value)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && b != Bucket("salt", tt.form) {
				t.Errorf("bucket %d, want Bucket(salt, %q) = %d", b, tt.form, Bucket("salt", tt.form))
			}
		})
	}
}

func TestHashDoesNotAllocate(t *testing.T) {
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		sink += Bucket("checkout-v2", "user-1")
		b, _ := canonicalBucket(saltState("checkout-v2"), 12345.5)
		sink += b
		b, _ = canonicalBucket(saltState("checkout-v2"), int64(77))
		sink += b
	})
	if allocs != 0 {
		t.Errorf("%v allocs per run, want 0", allocs)
	}
	_ = sink
}

// TestMurmurStreaming checks the streaming hash against twmb/murmur3 for
// every split of inputs of every length up to 40 bytes.
func TestMurmurStreaming(t *testing.T) {
	data := "the quick brown fünf boxing wizards jump quickly 0123456789"
	for n := 0; n <= 40; n++ {
		s := data[:n]
		want := murmur3.StringSum32(s)
		for i := 0; i <= n; i++ {
			for j := i; j <= n; j++ {
				m := murmur{}.writeString(s[:i]).writeBytes([]byte(s[i:j])).writeString(s[j:])
				if got := m.sum(); got != want {
					t.Fatalf("%q split at %d,%d: %d, want %d", s, i, j, got, want)
				}
			}
		}
	}
}

func FuzzHash(f *testing.F) {
	f.Add("checkout-v2", "user-1")
	f.Add("", "")
	f.Add("ünïcode-flag", "usér")
	f.Fuzz(func(t *testing.T, salt, value string) {
		if got, want := Hash(salt, value), murmur3.StringSum32(salt+"/"+value); got != want {
			t.Fatalf("Hash(%q, %q) = %d, want %d", salt, value, got, want)
		}
	})
}
