package main

import (
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
