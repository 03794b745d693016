package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDataDirPerOS(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	all := env(map[string]string{"XDG_DATA_HOME": "/xdg", "LocalAppData": `C:\Users\v\AppData\Local`})
	none := env(nil)
	tmp := filepath.Join(os.TempDir(), "vantage")
	cases := []struct {
		goos string
		env  func(string) string
		home string
		want string
	}{
		{"linux", all, "/home/v", filepath.Join("/xdg", "vantage")},
		{"linux", none, "/home/v", filepath.Join("/home/v", ".local", "share", "vantage")},
		{"linux", none, "", tmp},
		{"freebsd", none, "/home/v", filepath.Join("/home/v", ".local", "share", "vantage")},
		{"android", all, "/data/data/com.termux/files/home", filepath.Join("/xdg", "vantage")},
		// macOS and Windows ignore XDG: their own conventions win.
		{"darwin", all, "/Users/v", filepath.Join("/Users/v", "Library", "Application Support", "vantage")},
		{"darwin", none, "", tmp},
		{"windows", all, `C:\Users\v`, filepath.Join(`C:\Users\v\AppData\Local`, "vantage")},
		{"windows", env(map[string]string{"XDG_DATA_HOME": "/xdg"}), `C:\Users\v`, tmp},
	}
	for _, c := range cases {
		if got := dataDirFor(c.goos, c.env, c.home); got != c.want {
			t.Errorf("%s (home %q): %q, want %q", c.goos, c.home, got, c.want)
		}
	}
}
