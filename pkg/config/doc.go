// Package config loads g2msync's configuration: defaults, then the YAML file,
// then G2MSYNC_<PATH> environment overrides, then secrets from files, the
// environment or systemd's $CREDENTIALS_DIRECTORY; then it validates the whole
// and reports every problem at once, each with its key path.
//
// Unknown keys are errors: a typo such as max_disable must not silently
// switch off a safety gate. Secrets are held in Secret, whose every printed
// form is redacted.
package config
