package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// serviceUser is the user the shipped systemd units run g2msync as.
const serviceUser = "g2msync"

// SecretFile is a file the configuration read a secret from, with who may
// read it: `check` lists each, and the daemon warns at start about those
// others may read or change, as ssh does for keys.
type SecretFile struct {
	// Key is the setting that names the file (entra.client_secret_file),
	// or the secret's key for a systemd credential in
	// $CREDENTIALS_DIRECTORY (goto.client_secret).
	Key  string
	Path string
	// Mode is the file's permission bits.
	Mode fs.FileMode
	// Owner is the name of the user owning the file, or its uid.
	Owner string
	// Holds says what the file holds, when there is more to say than a
	// secret: the certificate's subject, thumbprint and expiry.
	Holds string
	// Shared says who besides its owner may read or change the file; ""
	// when no one may. Fix is then the command that makes it private.
	Shared string
	Fix    string
}

// String says what the file holds and who may read it, with the command
// that makes it private when others may.
func (f SecretFile) String() string {
	s := f.Path + ": "
	if f.Holds != "" {
		s += f.Holds + "; "
	}
	s += fmt.Sprintf("mode %04o, owner %s: ", f.Mode, f.Owner)
	if f.Shared == "" {
		return s + "only its owner can read it"
	}
	return s + f.Shared + "; make it private: " + f.Fix
}

// Warning is the warning about the file when others may read or change it.
func (f SecretFile) Warning() (Problem, bool) {
	if f.Shared == "" {
		return Problem{}, false
	}
	return Problem{Key: f.Key, Msg: f.String()}, true
}

// noteSecretFile records the secret file at path, named by key, and warns
// when others may read or change it. A credential is one systemd loads
// for the service (as root, which keeps access whatever the mode).
func noteSecretFile(cfg *Config, key, path, holds string, credential bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return // reading it just worked; a file gone since is the reader's problem
	}
	f := SecretFile{Key: key, Path: path, Mode: fi.Mode().Perm(), Owner: "?", Holds: holds}
	if uid, ok := fileOwner(fi); ok {
		f.Owner = userName(uid)
	}
	if f.Mode&0o077 != 0 {
		service := ""
		if _, err := user.Lookup(serviceUser); err == nil {
			service = serviceUser
		}
		f.Shared = exposure(f.Mode)
		f.Fix = privateFix(path, f.Owner, userName(uint32(os.Geteuid())), service, credential)
	}
	cfg.SecretFiles = append(cfg.SecretFiles, f)
	if w, ok := f.Warning(); ok {
		cfg.Warnings = append(cfg.Warnings, w)
	}
}

// userName is the name of the user uid, or the uid when it has none.
func userName(uid uint32) string {
	if uid == 0 {
		return "root"
	}
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// exposure says who besides its owner may read or change a file of mode m.
func exposure(m fs.FileMode) string {
	who := func(bit fs.FileMode) string {
		group, other := m&(bit<<3) != 0, m&bit != 0
		switch {
		case group && other:
			return "its group and all other users"
		case group:
			return "its group"
		case other:
			return "all other users"
		}
		return ""
	}
	r, w := who(4), who(2)
	switch {
	case r != "" && r == w:
		return r + " can read and change it"
	case r != "" && w != "":
		return r + " can read it, " + w + " can change it"
	case r != "":
		return r + " can read it"
	case w != "":
		return w + " can change it"
	}
	return "users other than its owner have rights on it"
}

// privateFix returns the command that leaves path to the user g2msync
// runs as, assuming that this command runs as that user (me), or as root
// for it (g2msync-admin). A credential is read by systemd as root, so its
// owner may keep it. A file g2msync reads itself goes to me when I am not
// root; under root, to its owner, unless that is root: then to the
// service's user (service, "" when there is none).
func privateFix(path, owner, me, service string, credential bool) string {
	chmod := "chmod 600 " + path
	switch {
	case me != "root" && owner == me:
		return chmod
	case me != "root" && credential:
		return "sudo " + chmod
	case me != "root":
		return "sudo chown " + me + " " + path + " && sudo " + chmod
	case credential || owner != "root":
		return chmod
	case service != "":
		return "chown " + service + " " + path + " && " + chmod
	}
	return chmod + ", and chown it to the user g2msync runs as if that is not root"
}
