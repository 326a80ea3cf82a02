package console

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/g2msync/g2msync/pkg/daemon"
)

// maxOperatorsFile bounds the operators file: a line is a name and a
// 60-byte hash, so a megabyte is thousands of operators, and a path
// pointed at a device or a huge file must not be read whole.
const maxOperatorsFile = 1 << 20

// LoadOperators reads the console's operators file at path; nil for "". Its
// errors start with the path.
func LoadOperators(path string) (map[string][]byte, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%s: %w", path, pe.Err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxOperatorsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxOperatorsFile {
		return nil, fmt.Errorf("%s: larger than %d bytes; an operators file holds name:bcrypt-hash lines", path, maxOperatorsFile)
	}
	ops, err := ParseOperators(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ops, nil
}

// Refusal says why the daemon would not serve the console on listen: on
// an address other hosts can reach, every page names people and every
// action changes accounts, so it needs operators to sign in and TLS to
// carry their passwords. nil when it would serve, or serves no console.
func Refusal(listen string, disabled, operators, tls bool) error {
	if disabled || listen == "" || daemon.Loopback(listen) {
		return nil
	}
	if !operators {
		return fmt.Errorf("the console on %s, which other hosts can reach, needs operators to sign in: set console.entra "+
			"(sign-in with Microsoft Entra ID), console.operators_file (name:bcrypt-hash lines; `g2msync console hash` makes a hash), "+
			"or console.disabled: true", listen)
	}
	if !tls {
		return fmt.Errorf("the console on %s, which other hosts can reach, would take operators' passwords over plain HTTP: "+
			"set listen_tls.cert_file and listen_tls.key_file, or console.disabled: true", listen)
	}
	return nil
}

// EntraRefusal says why sign-in with Entra cannot work on listen: off
// loopback, the console cannot tell from a request which public address
// Entra must send people back to, so console.entra.redirect_url must say.
func EntraRefusal(listen, redirectURL string) error {
	if redirectURL != "" || listen == "" || daemon.Loopback(listen) {
		return nil
	}
	return fmt.Errorf("the console on %s, which other hosts can reach, signs people in with Entra: set console.entra.redirect_url "+
		"to its public https address followed by /auth/callback, as registered on the app", listen)
}
