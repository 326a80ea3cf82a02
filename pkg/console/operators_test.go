package console

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOperatorsIsBounded(t *testing.T) {
	dir := t.TempDir()
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "operators")
	if err := os.WriteFile(good, []byte("alice:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ops, err := LoadOperators(good); err != nil || len(ops) != 1 {
		t.Fatalf("%d operators, %v", len(ops), err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("alice:"+hash+"\n", maxOperatorsFile/len(hash)+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOperators(big); err == nil || !strings.HasPrefix(err.Error(), big+": larger than") {
		t.Errorf("a file over the bound: %v", err)
	}
	if _, err := LoadOperators(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "missing")+": ") {
		t.Errorf("a missing file: %v", err)
	}
}
