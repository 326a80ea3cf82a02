//go:build !unix

package config

import "io/fs"

// fileOwner is unknown where files have no uid.
func fileOwner(fs.FileInfo) (uint32, bool) { return 0, false }
