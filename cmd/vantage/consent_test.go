package main

import (
	"strings"
	"testing"
)

func TestAskConsent(t *testing.T) {
	for answer, want := range map[string]bool{"yes\n": true, " Y \n": true, "no\n": false, "\n": false, "yes please\n": false} {
		var out strings.Builder
		ok, err := askConsent(strings.NewReader(answer), &out)
		if err != nil || ok != want {
			t.Errorf("answer %q: %v, %v; want %v", answer, ok, err, want)
		}
		if !strings.HasSuffix(out.String(), consentPrompt) {
			t.Errorf("the question must come last: %q", out.String())
		}
	}
	if _, err := askConsent(strings.NewReader(""), &strings.Builder{}); err == nil {
		t.Error("end of input must be an error (no consent)")
	}
}
