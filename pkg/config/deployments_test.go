package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeploymentEnvFiles reads every environment file under deployments/
// (the two-machine example, compose's spx.env.example, systemd units'
// Environment= lines) and checks each SPX_ name is a key spx knows and each
// value that is not a placeholder passes that key's validation, so an
// operator copying them gets no "unknown key" or bad value at start.
func TestDeploymentEnvFiles(t *testing.T) {
	known := map[string]Key{}
	for _, k := range Keys {
		for _, n := range EnvNames(k.Name) {
			known[n] = k
		}
	}
	var files []string
	for _, pat := range []string{"../../deployments/examples/*/*.env", "../../deployments/compose/*.example", "../../deployments/systemd/*.service"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found only %v under deployments/", files)
	}
	checked := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			line = strings.Trim(strings.TrimPrefix(line, "Environment="), `"`)
			name, value, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(name, "SPX_") || strings.ContainsAny(name, " #") {
				continue
			}
			checked++
			k, ok := known[name]
			if !ok {
				t.Errorf("%s:%d: %s is not the environment name of any key", filepath.Base(f), n, name)
				continue
			}
			if strings.Contains(value, "REPLACE") || strings.Contains(value, "$") || k.Validate == nil {
				continue
			}
			if err := k.Validate(value); err != nil {
				t.Errorf("%s:%d: %s=%s: %v", filepath.Base(f), n, name, value, err)
			}
		}
		fh.Close()
	}
	if checked < 10 {
		t.Errorf("checked only %d SPX_ lines in %v", checked, files)
	}
}
