package main

import (
	"errors"
	"flag"
	"os"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/state"
)

// defaultConfigPath is where packages and the systemd unit put the file.
const defaultConfigPath = "/etc/g2msync/g2msync.yaml"

// configFlag registers --config on fs; its default is $G2MSYNC_CONFIG or
// /etc/g2msync/g2msync.yaml.
func (m *Main) configFlag(fs *flag.FlagSet) *string {
	def := m.getenv("G2MSYNC_CONFIG")
	if def == "" {
		def = defaultConfigPath
	}
	return fs.String("config", def, "configuration file (env G2MSYNC_CONFIG); \"\" reads the environment only")
}

// loadConfig loads and validates the configuration; problems are usage errors.
func (m *Main) loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(m.configPath(path), m.Environ)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// configPath is the configuration file to read: path, or none when the
// default file is absent and the environment configures g2msync, as in a
// container.
func (m *Main) configPath(path string) string {
	if path == defaultConfigPath {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && m.getenv("G2MSYNC_ENTRA_TENANT_ID") != "" {
			return ""
		}
	}
	return path
}

// loadSetupConfig is loadConfig for `check`, `login goto` and `import
// entra-job`, which run on a configuration still being set up: one that
// lacks only its roles' licences or the GoTo account key loads, with those
// problems pending (config.LoadSetup).
func (m *Main) loadSetupConfig(path string) (*config.Config, config.Problems, error) {
	cfg, pending, err := config.LoadSetup(m.configPath(path), m.Environ)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return cfg, pending, nil
}

// binding is the setup a state file belongs to.
func binding(cfg *config.Config) *state.Binding { return application.Binding(cfg) }

// statePathFlags registers --config and --state for commands that only read
// the state file, so an administrator can read it without the secrets.
func (m *Main) statePathFlags(fs *flag.FlagSet) (cfgPath, statePath *string) {
	cfgPath = m.configFlag(fs)
	statePath = fs.String("state", "", "state file to read; when set, the configuration is not loaded")
	return cfgPath, statePath
}

// openStateReadOnly opens the state file named by --state, or by the configuration.
func (m *Main) openStateReadOnly(cfgPath, statePath string) (*state.Store, error) {
	path := statePath
	if path == "" {
		p, err := m.statePathOf(cfgPath)
		if err != nil {
			return nil, err
		}
		path = p
	}
	return state.Open(path, state.Options{ReadOnly: true})
}

// statePathOf reads only the state file's path from the configuration at
// cfgPath: no secret, nor the rest of the configuration, is needed to read
// the state file.
func (m *Main) statePathOf(cfgPath string) (string, error) {
	cfgFile := cfgPath
	if cfgFile == defaultConfigPath {
		if _, err := os.Stat(cfgFile); errors.Is(err, os.ErrNotExist) {
			cfgFile = ""
		}
	}
	p, err := config.StatePath(cfgFile, m.Environ)
	if err != nil {
		return "", usageError{err}
	}
	return p, nil
}
