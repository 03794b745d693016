package collector

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
)

// BanList is a file of probe ids whose uploads the collector refuses (403),
// one id per line, "#" starting a comment. Reload rereads it (on SIGHUP); a file
// that does not read leaves the previous list in force.
type BanList struct {
	path string
	mu   sync.RWMutex
	ids  map[string]bool
}

// maxBanLineBytes bounds a line of the ban list: a probe id is 32 hex digits.
const maxBanLineBytes = 4 << 10

// LoadBanList reads the list at path.
func LoadBanList(path string) (*BanList, error) {
	b := &BanList{path: path}
	if err := b.Reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// Reload rereads the file.
func (b *BanList) Reload() error {
	f, err := os.Open(b.path)
	if err != nil {
		return fmt.Errorf("ban list: %w", err)
	}
	defer f.Close()
	ids := make(map[string]bool)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 256), maxBanLineBytes)
	for no := 1; sc.Scan(); no++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		if strings.ContainsAny(id, " \t") {
			return fmt.Errorf("ban list %s:%d: want one probe id per line", b.path, no)
		}
		ids[strings.ToLower(id)] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ban list %s: %w", b.path, err)
	}
	b.mu.Lock()
	b.ids = ids
	b.mu.Unlock()
	return nil
}

// Banned tells whether probeID is on the list.
func (b *BanList) Banned(probeID string) bool {
	if b == nil {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.ids[strings.ToLower(probeID)]
}

// Len is the number of ids on the list.
func (b *BanList) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.ids)
}

// reasonBanned is the refusal metric's reason for a banned key.
const reasonBanned = "banned"

// bannedIn returns the first banned probe id among ids, "" for none.
func (b *BanList) bannedIn(ids []string) string {
	for _, id := range ids {
		if b.Banned(id) {
			return id
		}
	}
	return ""
}
