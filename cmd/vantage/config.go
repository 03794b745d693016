package main

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/vantage-probe/vantage/probe/config"
)

// loadConfig reads --config, or the per-user file when it exists. Configuration
// errors carry exit code exitUsage.
func loadConfig() (*config.Config, error) {
	if global.configPath != "" {
		cfg, err := config.Load(global.configPath, true)
		return cfg, withCode(exitUsage, err)
	}
	path, err := config.DefaultPath()
	if err != nil {
		return config.Defaults(), nil
	}
	cfg, err := config.Load(path, false)
	return cfg, withCode(exitUsage, err)
}

// loadRoots reads the PEM bundle of [tls] roots, which replaces the system roots;
// "" keeps them (nil).
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls roots: %s holds no PEM certificate", path)
	}
	return pool, nil
}
