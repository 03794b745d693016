package limits

import (
	"errors"
	"strings"
	"testing"
)

func TestQuoteKeepsShortValuesAndCutsLongOnes(t *testing.T) {
	if got := Quote("KZ"); got != `"KZ"` {
		t.Errorf("Quote(KZ) = %s", got)
	}
	exact := strings.Repeat("a", quotePrefix)
	if got := Quote(exact); got != `"`+exact+`"` {
		t.Errorf("a value of exactly %d bytes is cut: %s", quotePrefix, got)
	}
	long := strings.Repeat("b", 1<<20)
	got := Quote(long)
	if len(got) > quotePrefix+40 || !strings.HasSuffix(got, "... (1048576 bytes)") || !strings.HasPrefix(got, `"`+strings.Repeat("b", quotePrefix)+`"`) {
		t.Errorf("Quote of 1 MiB = %.200s", got)
	}
	// A cut never splits a character: 39 ASCII bytes then a 3-byte rune.
	mixed := strings.Repeat("c", quotePrefix-1) + "€" + strings.Repeat("d", 100)
	if got := Quote(mixed); !strings.HasPrefix(got, `"`+strings.Repeat("c", quotePrefix-1)+`"...`) {
		t.Errorf("cut inside a rune: %s", got)
	}
}

func TestCheck(t *testing.T) {
	if err := Check("input", strings.Repeat("x", MaxInputBytes), MaxInputBytes); err != nil {
		t.Errorf("a value at the bound is refused: %v", err)
	}
	err := Check("input", strings.Repeat("x", MaxInputBytes+1), MaxInputBytes)
	var tl *TooLongError
	if !errors.As(err, &tl) || tl.Len != MaxInputBytes+1 || tl.Max != MaxInputBytes {
		t.Fatalf("one byte over: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "input is 8193 bytes, longer than the limit of 8192") || len(msg) > 200 {
		t.Errorf("message: %s", msg)
	}
}
