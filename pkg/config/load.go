package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "G2MSYNC_"

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key string // key path, e.g. roles.User.licenses
	Msg string
}

// Problems collects every problem found, so they are reported at once.
type Problems []Problem

// Add records a problem at key.
func (p *Problems) Add(key, format string, args ...any) {
	*p = append(*p, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Error is returned when a configuration is invalid. It lists every problem.
type Error struct {
	Path     string
	Problems Problems
	// partial is the configuration as far as it loaded, for LoadSetup.
	partial *Config
}

func (e *Error) Error() string {
	var b strings.Builder
	src := "configuration"
	if e.Path != "" {
		src = "config " + e.Path
	}
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s: %s: %s", src, e.Problems[0].Key, e.Problems[0].Msg)
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems:", src, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Key, p.Msg)
	}
	return b.String()
}

// StatePath returns the state file a configuration names, reading nothing
// else: `status` and `report` only read that file, so they need neither
// the Entra nor the GoTo secrets, nor a configuration valid in every other
// respect. G2MSYNC_STATE_PATH overrides the file, as for Load.
func StatePath(path string, environ []string) (string, error) {
	sp := Default().StatePath
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && envMap(environ)[EnvPrefix+"STATE_PATH"] != "") {
			return "", fmt.Errorf("read config: %w", err)
		}
		var only struct {
			StatePath string `yaml:"state_path"`
		}
		if err := yaml.Unmarshal(data, &only); err != nil {
			return "", fmt.Errorf("config %s: not valid YAML: %s", path, cleanYAMLError(err))
		}
		if only.StatePath != "" {
			sp = only.StatePath
		}
	}
	if v := envMap(environ)[EnvPrefix+"STATE_PATH"]; v != "" {
		sp = v
	}
	return sp, nil
}

// Listener returns the listen address and listen_tls a configuration
// names, reading nothing else: `healthcheck` probes the daemon with them,
// and needs neither the secrets nor a configuration valid in every other
// respect. G2MSYNC_LISTEN, G2MSYNC_LISTEN_TLS_CERT_FILE and
// G2MSYNC_LISTEN_TLS_KEY_FILE override the file, as for Load; with
// G2MSYNC_LISTEN set, a missing file is no error.
func Listener(path string, environ []string) (string, ListenTLS, error) {
	env := envMap(environ)
	listen, lt := Default().Listen, ListenTLS{}
	if path != "" {
		data, err := os.ReadFile(path)
		_, fromEnv := env[EnvPrefix+"LISTEN"]
		if err != nil && !(errors.Is(err, os.ErrNotExist) && fromEnv) {
			return "", lt, fmt.Errorf("read config: %w", err)
		}
		var only struct {
			Listen    *string   `yaml:"listen"`
			ListenTLS ListenTLS `yaml:"listen_tls"`
		}
		if err := yaml.Unmarshal(data, &only); err != nil {
			return "", lt, fmt.Errorf("config %s: not valid YAML: %s", path, cleanYAMLError(err))
		}
		if only.Listen != nil {
			listen = *only.Listen
		}
		lt = only.ListenTLS
	}
	for name, v := range map[string]*string{"LISTEN": &listen, "LISTEN_TLS_CERT_FILE": &lt.CertFile, "LISTEN_TLS_KEY_FILE": &lt.KeyFile} {
		if val, ok := env[EnvPrefix+name]; ok {
			*v = val
		}
	}
	return listen, lt, nil
}

// StatusToken returns the status token a configuration names
// (status_token, status_token_file, $G2MSYNC_STATUS_TOKEN or the systemd
// credential), reading nothing else: `status` and `report` send it to the
// daemon while a cycle holds the state file, and need neither the other
// secrets nor a configuration valid in every other part.
func StatusToken(path string, environ []string) (Secret, error) {
	env := envMap(environ)
	cfg := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Secret{}, fmt.Errorf("read config: %w", err)
		}
		var only struct {
			StatusToken     string `yaml:"status_token"`
			StatusTokenFile string `yaml:"status_token_file"`
		}
		if err := yaml.Unmarshal(data, &only); err != nil {
			return Secret{}, fmt.Errorf("config %s: not valid YAML: %s", path, cleanYAMLError(err))
		}
		if only.StatusToken != "" {
			cfg.StatusToken = NewSecret(only.StatusToken, path)
		}
		cfg.StatusTokenFile = only.StatusTokenFile
	}
	if v, ok := env[EnvPrefix+"STATUS_TOKEN_FILE"]; ok {
		cfg.StatusTokenFile = v
	}
	var probs Problems
	loadSecrets(cfg, env, &probs, "status_token")
	if len(probs) > 0 {
		return Secret{}, &Error{Path: path, Problems: probs}
	}
	return cfg.StatusToken, nil
}

// Load reads the file at path (if path is not empty), applies the
// environment's G2MSYNC_ overrides and secrets, and validates the result.
// environ is os.Environ() in production; tests pass their own.
func Load(path string, environ []string) (*Config, error) {
	var data []byte
	if path != "" {
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
	}
	cfg, err := Parse(data, environ)
	var cerr *Error
	if errors.As(err, &cerr) {
		cerr.Path = path
	}
	return cfg, err
}

// Parse is Load for configuration already in memory.
func Parse(data []byte, environ []string) (*Config, error) {
	cfg, _, err := parse(data, environ, false)
	return cfg, err
}

// LoadSetup is Load for a configuration still being set up, as `check`,
// `login goto` and `import entra-job` read it: one incomplete only in what
// `check` finds out (roles whose licences are placeholders, empty or
// missing; goto.account_key missing or a placeholder) loads, and Pending
// lists those problems. A placeholder account key is cleared: GoTo then
// names the admin's account. Every other problem is an error, as for Load.
func LoadSetup(path string, environ []string) (*Config, Problems, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
	}
	cfg, pending, err := ParseSetup(data, environ)
	var cerr *Error
	if errors.As(err, &cerr) {
		cerr.Path = path
	}
	return cfg, pending, err
}

// ParseSetup is LoadSetup for configuration already in memory.
func ParseSetup(data []byte, environ []string) (*Config, Problems, error) {
	return parse(data, environ, true)
}

// pendingKey matches the keys LoadSetup lets wait: roles with no licence
// key yet, and the GoTo account.
var pendingKey = regexp.MustCompile(`(?s)^(roles|roles\..*\.licenses(\[[0-9]+\])?|goto\.account_key)$`)

func parse(data []byte, environ []string, setup bool) (*Config, Problems, error) {
	cfg, err := parseAll(data, environ)
	var cerr *Error
	if !setup || !errors.As(err, &cerr) {
		return cfg, nil, err
	}
	var pending, rest Problems
	for _, p := range cerr.Problems {
		if pendingKey.MatchString(p.Key) && !strings.HasPrefix(p.Msg, "an app role name is empty") {
			pending = append(pending, p)
		} else {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		return nil, nil, &Error{Problems: rest}
	}
	cfg = cerr.partial
	if slices.ContainsFunc(pending, func(p Problem) bool { return p.Key == "goto.account_key" }) {
		cfg.GoTo.AccountKey = ""
	}
	return cfg, pending, nil
}

func parseAll(data []byte, environ []string) (*Config, error) {
	env := envMap(environ)
	cfg := Default()
	var probs Problems
	d := &decoder{probs: &probs}
	if len(bytes.TrimSpace(data)) > 0 {
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			probs.Add("(file)", "not valid YAML: %s", cleanYAMLError(err))
			return nil, &Error{Problems: probs}
		}
		d.decode(&root, reflect.ValueOf(cfg).Elem(), "")
	}
	applyEnv(d, reflect.ValueOf(cfg).Elem(), "", env)
	for name := range env {
		if name != EnvPrefix+"CONFIG" && strings.HasPrefix(name, EnvPrefix) && !serviceLink.MatchString(name) &&
			!knownEnv(reflect.TypeFor[Config](), "", name) {
			probs.Add("$"+name, "unknown setting; environment overrides are G2MSYNC_ and the key path in capitals, e.g. G2MSYNC_SAFETY_MAX_DISABLES")
		}
	}
	loadSecrets(cfg, env, &probs)
	validate(cfg, &probs)
	loadCertificate(cfg, time.Now(), &probs)
	sort.SliceStable(cfg.SecretFiles, func(i, j int) bool { return cfg.SecretFiles[i].Key < cfg.SecretFiles[j].Key })
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Key < probs[j].Key })
		return nil, &Error{Problems: probs, partial: cfg}
	}
	return cfg, nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// envName is the environment variable that overrides the key at path.
func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path))
}

// credentialName is the systemd credential (LoadCredential=) that holds the secret at path.
func credentialName(path string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(path)
}

// applyEnv overrides each setting whose G2MSYNC_ variable is set. Lists of
// strings are comma-separated; maps and lists of structures are YAML.
func applyEnv(d *decoder, v reflect.Value, path string, env map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		name := tagName(t.Field(i))
		if name == "" || name == "-" {
			continue
		}
		f, p := v.Field(i), join(path, name)
		if f.Type() == secretType {
			continue // loadSecrets reads these
		}
		if f.Kind() == reflect.Struct && !reflect.PointerTo(f.Type()).Implements(unmarshalType) {
			applyEnv(d, f, p, env)
			continue
		}
		val, ok := env[envName(p)]
		if !ok {
			continue
		}
		label := p + " (from $" + envName(p) + ")"
		switch {
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			var items []string
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			f.Set(reflect.ValueOf(items))
		case f.Kind() == reflect.Map || f.Kind() == reflect.Slice:
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(val), &n); err != nil {
				d.probs.Add(label, "not valid YAML: %s", cleanYAMLError(err))
				continue
			}
			f.Set(reflect.Zero(f.Type()))
			d.decode(&n, f, label)
		default:
			d.decode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}, f, label)
		}
	}
}

// knownEnv reports whether name is the override of some key under t.
func knownEnv(t reflect.Type, path, name string) bool {
	for i := range t.NumField() {
		tag := tagName(t.Field(i))
		if tag == "" || tag == "-" {
			continue
		}
		p := join(path, tag)
		ft := t.Field(i).Type
		if envName(p) == name {
			return true
		}
		if ft.Kind() == reflect.Struct && ft != secretType && !reflect.PointerTo(ft).Implements(unmarshalType) && knownEnv(ft, p, name) {
			return true
		}
	}
	return false
}

// serviceLink matches the variables Kubernetes sets in every pod of a
// namespace for a Service named g2msync (G2MSYNC_PORT=tcp://…,
// G2MSYNC_SERVICE_HOST, G2MSYNC_PORT_9464_TCP_ADDR, …). No setting has
// these paths, and taking them for typos stopped every command.
var serviceLink = regexp.MustCompile(`^G2MSYNC_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// loadSecrets fills each Secret from, in order: the file its _file key names,
// its G2MSYNC_ variable, or the systemd credential of the same name.
func loadSecrets(cfg *Config, env map[string]string, probs *Problems, only ...string) {
	secrets := []struct {
		path string
		dst  *Secret
		file string
	}{
		{"entra.client_secret", &cfg.Entra.ClientSecret, cfg.Entra.ClientSecretFile},
		{"entra.certificate_password", &cfg.Entra.CertificatePassword, cfg.Entra.CertificatePasswordFile},
		{"goto.client_secret", &cfg.GoTo.ClientSecret, cfg.GoTo.ClientSecretFile},
		{"goto.refresh_token", &cfg.GoTo.RefreshToken, cfg.GoTo.RefreshTokenFile},
		{"goto.personal_access_token", &cfg.GoTo.PersonalAccessToken, cfg.GoTo.PersonalAccessTokenFile},
		{"goto.password", &cfg.GoTo.Password, cfg.GoTo.PasswordFile},
		{"notify.smtp.password", &cfg.Notify.SMTP.Password, cfg.Notify.SMTP.PasswordFile},
		{"status_token", &cfg.StatusToken, cfg.StatusTokenFile},
		{"console.entra.client_secret", &cfg.Console.Entra.ClientSecret, cfg.Console.Entra.ClientSecretFile},
	}
	credDir := env["CREDENTIALS_DIRECTORY"]
	for _, s := range secrets {
		if len(only) > 0 && !slices.Contains(only, s.path) {
			continue
		}
		switch {
		case s.file != "":
			b, err := os.ReadFile(s.file)
			if err != nil {
				probs.Add(s.path+"_file", "cannot read the secret: %v", unwrapPath(err))
				continue
			}
			if v := strings.TrimSpace(string(b)); v != "" {
				*s.dst = NewSecret(v, s.file)
				noteSecretFile(cfg, s.path+"_file", s.file, "", false)
			} else {
				probs.Add(s.path+"_file", "%s is empty", s.file)
			}
		case env[envName(s.path)] != "":
			*s.dst = NewSecret(strings.TrimSpace(env[envName(s.path)]), "$"+envName(s.path))
		case credDir != "":
			p := filepath.Join(credDir, credentialName(s.path))
			b, err := os.ReadFile(p)
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				// Unreadable is not missing: "no credential configured" would
				// send the administrator the wrong way.
				probs.Add(s.path, "cannot read the credential %s: %v", credentialName(s.path), unwrapPath(err))
			case strings.TrimSpace(string(b)) != "":
				*s.dst = NewSecret(strings.TrimSpace(string(b)), "credential "+credentialName(s.path))
				noteSecretFile(cfg, s.path, p, "", true)
			}
		}
	}
}

// unwrapPath drops the "open PATH:" prefix when the path is said elsewhere.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
