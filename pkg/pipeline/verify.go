package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/spx"
)

// JobReader is what Verify needs from the status store.
type JobReader interface {
	Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error)
	Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error)
}

// Problem is one thing Verify found wrong.
type Problem struct {
	Date    spx.Date `json:"date"`
	Job     string   `json:"job,omitempty"`
	File    string   `json:"file"`
	Message string   `json:"message"`
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Files    int       `json:"files"`
	Days     int       `json:"days"`
	Problems []Problem `json:"problems"`
}

// Verify re-reads every Parquet file recorded `written` in [from, to]
// (zero = unbounded): its SHA-256 and row count must match the status store,
// it must decode, and its day directory's manifest must list it with the
// same row count and SHA-256. For days recorded success, the day checksum
// must match the manifests on disk.
func Verify(ctx context.Context, st JobReader, outputDir string, from, to spx.Date) (VerifyReport, error) {
	rep := VerifyReport{Problems: []Problem{}} // [] rather than null in JSON
	jobs, err := st.Jobs(ctx, spx.JobFilter{From: from, To: to, Outcomes: []spx.JobOutcome{spx.JobWritten}})
	if err != nil {
		return rep, fmt.Errorf("listing written jobs: %w", err)
	}
	type cached struct {
		files map[string]archive.ManifestFile
		err   error
	}
	manifests := map[string]cached{}
	manifest := func(dir string) (map[string]archive.ManifestFile, error) {
		if c, ok := manifests[dir]; ok {
			return c.files, c.err
		}
		m, err := archive.ReadManifest(dir)
		if err != nil {
			manifests[dir] = cached{err: err}
			return nil, err
		}
		files := map[string]archive.ManifestFile{}
		for _, f := range m.Files {
			files[f.File] = f
		}
		manifests[dir] = cached{files: files}
		return files, nil
	}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Files++
		path := filepath.Join(outputDir, filepath.FromSlash(j.Key.RelPath()))
		add := func(msg string) {
			rep.Problems = append(rep.Problems, Problem{Date: j.Key.Date, Job: j.Key.String(), File: path, Message: msg})
		}
		if err := archive.VerifyFile(ctx, path, j.Rows, j.SHA256); err != nil {
			add(err.Error())
		}
		dir := filepath.Join(outputDir, filepath.FromSlash(spx.DayDir(j.Key.Dataset, j.Key.Root, j.Key.Date)))
		files, err := manifest(dir)
		switch {
		case err != nil && errors.Is(err, os.ErrNotExist):
			// A day still in progress has no manifest yet; only complete days must.
		case err != nil:
			add(err.Error())
		default:
			f, ok := files[filepath.Base(path)]
			switch {
			case !ok:
				add("not listed in " + filepath.Join(dir, archive.ManifestName))
			case f.SHA256 != j.SHA256 || f.Rows != j.Rows:
				add(fmt.Sprintf("manifest says %d rows sha256 %s, status database says %d rows sha256 %s", f.Rows, f.SHA256, j.Rows, j.SHA256))
			}
		}
	}
	days, err := st.Days(ctx, from, to)
	if err != nil {
		return rep, fmt.Errorf("listing days: %w", err)
	}
	for _, d := range days {
		if d.Status != spx.DaySuccess {
			continue
		}
		rep.Days++
		sum, missing, err := dayChecksum(outputDir, d.Date)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Date: d.Date, File: outputDir, Message: err.Error()})
			continue
		}
		if len(missing) > 0 {
			continue // reported per file above
		}
		if d.Checksum != "" && sum != d.Checksum {
			rep.Problems = append(rep.Problems, Problem{Date: d.Date, File: outputDir,
				Message: fmt.Sprintf("day checksum of the manifests on disk is %s, recorded %s", sum, d.Checksum)})
		}
	}
	sort.SliceStable(rep.Problems, func(a, b int) bool { return rep.Problems[a].Date < rep.Problems[b].Date })
	return rep, nil
}

// dayChecksum recomputes the coordinator's day checksum: SHA-256 over the
// SHA-256s of the day's manifests in directory order.
func dayChecksum(outputDir string, d spx.Date) (string, []string, error) {
	var dirs []string
	for _, ds := range spx.Datasets {
		roots, err := filepath.Glob(filepath.Join(outputDir, string(ds), "root=*"))
		if err != nil {
			return "", nil, err
		}
		for _, r := range roots {
			dir := filepath.Join(r, "date="+d.String())
			if _, err := os.Stat(filepath.Join(dir, archive.ManifestName)); err == nil {
				rel, _ := filepath.Rel(outputDir, dir)
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
	}
	sort.Strings(dirs)
	h := sha256.New()
	var missing []string
	for _, rel := range dirs {
		data, err := os.ReadFile(filepath.Join(outputDir, filepath.FromSlash(rel), archive.ManifestName))
		if err != nil {
			missing = append(missing, rel)
			continue
		}
		sum := sha256.Sum256(data)
		h.Write([]byte(hex.EncodeToString(sum[:])))
	}
	return hex.EncodeToString(h.Sum(nil)), missing, nil
}
