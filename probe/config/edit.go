package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vantage-probe/vantage/report/atomicfile"
)

var (
	tableHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$`)
	consentKey  = regexp.MustCompile(`^\s*informed_consent\s*=`)
)

// RecordConsent sets [probe] informed_consent = true in the file at path, creating
// it when missing. The file is edited as text so that every other key and comment
// stays as the person wrote it; the result is checked before it replaces the file.
func RecordConsent(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("consent: %w", err)
	}
	updated := setConsentLine(string(old))
	if _, err := Parse([]byte(updated), path); err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	return WriteFile(path, []byte(updated))
}

// setConsentLine returns text with informed_consent = true in its [probe] table.
func setConsentLine(text string) string {
	lines := strings.Split(text, "\n")
	probe := -1
	for i, l := range lines {
		m := tableHeader.FindStringSubmatch(l)
		if m != nil {
			if probe >= 0 {
				break
			}
			if m[1] == "probe" {
				probe = i
			}
			continue
		}
		if probe >= 0 && consentKey.MatchString(l) {
			lines[i] = "informed_consent = true"
			return strings.Join(lines, "\n")
		}
	}
	if probe >= 0 {
		lines = append(lines[:probe+1], append([]string{"informed_consent = true"}, lines[probe+1:]...)...)
		return strings.Join(lines, "\n")
	}
	// No [probe] table: add one before the first table, so that the key does not
	// land inside another table.
	for i, l := range lines {
		if tableHeader.MatchString(l) {
			head := append([]string{}, lines[:i]...)
			head = append(head, "[probe]", "informed_consent = true", "")
			return strings.Join(append(head, lines[i:]...), "\n")
		}
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text + "[probe]\ninformed_consent = true\n"
}

// WriteFile replaces path atomically, keeping its mode (0600 when new: the
// file may name the probe's location).
func WriteFile(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	err := atomicfile.Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
