package config

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// SecretValues must list every Secret the configuration has: a field added
// later fails here until it is listed.
func TestSecretValuesListsEverySecret(t *testing.T) {
	var cfg Config
	var want []string
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f, name := v.Field(i), path+"."+v.Type().Field(i).Name
			switch {
			case f.Type() == reflect.TypeFor[Secret]():
				val := fmt.Sprintf("value-of-%s", name)
				f.Set(reflect.ValueOf(Secret{value: val}))
				want = append(want, val)
			case f.Kind() == reflect.Struct && f.CanSet():
				fill(f, name)
			}
		}
	}
	fill(reflect.ValueOf(&cfg).Elem(), "cfg")
	got := cfg.SecretValues()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("SecretValues lacks %s", w)
		}
	}
	if len(want) < 8 {
		t.Errorf("found only %d secrets: the walk missed some", len(want))
	}
}
