package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultPath returns the per-user configuration file in this OS's convention
// (os.UserConfigDir): $XDG_CONFIG_HOME/vantage/config.toml, else
// ~/.config/vantage/config.toml on Linux; ~/Library/Application Support/vantage/
// config.toml on macOS; %AppData%\vantage\config.toml on Windows.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config: no per-user config directory: %w", err)
	}
	return filepath.Join(dir, "vantage", "config.toml"), nil
}

// DefaultDataDir returns the per-user data directory (store, key, batch log) in
// this OS's convention: $XDG_DATA_HOME/vantage, else ~/.local/share/vantage on
// Linux and the other Unixes; ~/Library/Application Support/vantage on macOS;
// %LocalAppData%\vantage on Windows (local, not roaming: a signing key and a
// store of measurements should not follow a domain profile to other machines).
func DefaultDataDir() string {
	home, _ := os.UserHomeDir()
	return dataDirFor(runtime.GOOS, os.Getenv, home)
}

// dataDirFor is DefaultDataDir for a given OS, environment and home directory.
func dataDirFor(goos string, getenv func(string) string, home string) string {
	switch {
	case goos == "windows" && getenv("LocalAppData") != "":
		return filepath.Join(getenv("LocalAppData"), "vantage")
	case goos == "darwin" && home != "":
		return filepath.Join(home, "Library", "Application Support", "vantage")
	case goos != "windows" && goos != "darwin" && getenv("XDG_DATA_HOME") != "":
		return filepath.Join(getenv("XDG_DATA_HOME"), "vantage")
	case goos != "windows" && goos != "darwin" && home != "":
		return filepath.Join(home, ".local", "share", "vantage")
	}
	return filepath.Join(os.TempDir(), "vantage")
}
