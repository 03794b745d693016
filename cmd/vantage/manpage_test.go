package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestManpage: every visible command has a section with its flags, and every
// line that starts with a dot is one of the few macros the page uses (an
// unescaped help line starting with "." would vanish from the page).
func TestManpage(t *testing.T) {
	var b strings.Builder
	if err := writeManpage(&b, newRoot()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`.SS "vantage run"`, `.SS "vantage reset"`, `.SS "vantage schedule"`, `\fB\-\-remove\fR`, `\fB\-\-yes\fR`, ".SH EXIT STATUS"} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if strings.Contains(page, `.SS "vantage manpage"`) {
		t.Error("the hidden manpage command is in the page")
	}
	macro := regexp.MustCompile(`^\.(TH|SH|SS|PP|TP|B|nf|fi)( |$)`)
	for i, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, ".") && !macro.MatchString(l) {
			t.Errorf("line %d starts with an unknown request: %q", i+1, l)
		}
	}
	if got := roff(".hidden -x \\n"); got != `\&.hidden \-x \en` {
		t.Errorf("roff = %q", got)
	}
}
