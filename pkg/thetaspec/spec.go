package thetaspec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Where the spec is looked for: SPX_THETADATA_OPENAPI (a path to
// thetadata-v3-openapi.yml), or else a bare git clone of the public mirror
// at SPX_THETADATA_MIRROR (default DefaultMirror).
const (
	SpecEnv       = "SPX_THETADATA_OPENAPI"
	MirrorEnv     = "SPX_THETADATA_MIRROR"
	DefaultMirror = "/work/.mirror/api-evangelist+thetadata/repo"
	SpecRepo      = "api-evangelist/thetadata"
	SpecPath      = "openapi/_original/thetadata-v3-openapi.yml"
)

// ErrNoSpec is returned by FindSpec when no copy of the spec is at hand.
var ErrNoSpec = fmt.Errorf("ThetaData's v3 OpenAPI file is not here: set %s to a copy of %s from github.com/%s, or %s to a bare git clone of that repository (default %s)",
	SpecEnv, SpecPath, SpecRepo, MirrorEnv, DefaultMirror)

// FindSpec reads the spec and says where it came from (with its SHA-256;
// with the commits when read from a git mirror).
func FindSpec() ([]byte, Source, error) {
	src := Source{Repo: SpecRepo, Path: SpecPath}
	var raw []byte
	if p := os.Getenv(SpecEnv); p != "" {
		b, err := os.ReadFile(filepath.Clean(p))
		if err != nil {
			return nil, src, fmt.Errorf("reading %s=%s: %w", SpecEnv, p, err)
		}
		raw = b
	} else {
		mirror := os.Getenv(MirrorEnv)
		if mirror == "" {
			mirror = DefaultMirror
		}
		if _, err := os.Stat(mirror); err != nil {
			return nil, src, ErrNoSpec
		}
		git := func(args ...string) (string, error) {
			out, err := exec.Command("git", append([]string{"-C", mirror}, args...)...).Output()
			if err != nil {
				return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), mirror, err)
			}
			return string(out), nil
		}
		b, err := git("show", "HEAD:"+SpecPath)
		if err != nil {
			return nil, src, err
		}
		raw = []byte(b)
		for _, q := range []struct {
			args       []string
			hash, date *string
		}{
			{[]string{"log", "-1", "--format=%H %cs", "HEAD"}, &src.Commit, &src.CommitDate},
			{[]string{"log", "-1", "--format=%H %cs", "HEAD", "--", SpecPath}, &src.FileCommit, &src.FileCommitDate},
		} {
			out, err := git(q.args...)
			if err != nil {
				return nil, src, err
			}
			*q.hash, *q.date, _ = strings.Cut(strings.TrimSpace(out), " ")
		}
	}
	sum := sha256.Sum256(raw)
	src.SHA256 = hex.EncodeToString(sum[:])
	return raw, src, nil
}

// Example is one example body of the spec for a covered endpoint.
type Example struct {
	Endpoint string // spec path
	Format   string // csv, json or ndjson
	Body     []byte
}

// Examples returns the spec's example bodies of the covered endpoints, for
// tests that feed them to spx's decoders. They are read from the spec at
// hand, never stored.
func Examples(raw []byte) ([]Example, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing the spec: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	var out []Example
	for _, e := range Covered {
		item, _ := paths[e.Path].(map[string]any)
		op, _ := item["get"].(map[string]any)
		resp, _ := op["responses"].(map[string]any)
		r200, _ := resp["200"].(map[string]any)
		content, _ := r200["content"].(map[string]any)
		for _, f := range []struct{ ct, name string }{{"text/csv", "csv"}, {"application/json", "json"}, {"application/x-ndjson", "ndjson"}} {
			c, ok := content[f.ct].(map[string]any)
			if !ok {
				continue
			}
			out = append(out, Example{Endpoint: e.Path, Format: f.name, Body: []byte(str(c["example"]))})
		}
	}
	return out, nil
}
