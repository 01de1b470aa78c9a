package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

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
// (zero = unbounded) from the archive arc: its SHA-256 and row count must
// match the status store, it must decode, and its day directory's manifest
// must list it with the same row count and SHA-256. For days recorded
// success, the day checksum must match the manifests in the archive.
func Verify(ctx context.Context, st JobReader, arc spx.ArchiveStore, from, to spx.Date) (VerifyReport, error) {
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
		m, err := archive.GetManifest(ctx, arc, dir)
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
		name := j.Key.RelPath()
		add := func(msg string) {
			rep.Problems = append(rep.Problems, Problem{Date: j.Key.Date, Job: j.Key.String(), File: arc.Location(name), Message: msg})
		}
		if err := archive.Verify(ctx, arc, name, j.Rows, j.SHA256); err != nil {
			add(err.Error())
		}
		dir := spx.DayDir(j.Key.Dataset, j.Key.Root, j.Key.Date)
		files, err := manifest(dir)
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist):
			// A day still in progress has no manifest yet; only complete days must.
		case err != nil:
			add(err.Error())
		default:
			f, ok := files[path.Base(name)]
			switch {
			case !ok:
				add("not listed in " + arc.Location(path.Join(dir, archive.ManifestName)))
			case f.SHA256 != j.SHA256 || f.Rows != j.Rows:
				add(fmt.Sprintf("manifest says %d rows sha256 %s, status database says %d rows sha256 %s", f.Rows, f.SHA256, j.Rows, j.SHA256))
			}
		}
	}
	days, err := st.Days(ctx, from, to)
	if err != nil {
		return rep, fmt.Errorf("listing days: %w", err)
	}
	// The root directories do not depend on the day: listed once (on a
	// bucket each listing is a request).
	roots, rootsErr := rootDirs(ctx, arc)
	for _, d := range days {
		if d.Status != spx.DaySuccess {
			continue
		}
		rep.Days++
		if rootsErr != nil {
			rep.Problems = append(rep.Problems, Problem{Date: d.Date, File: arc.Location(""), Message: rootsErr.Error()})
			continue
		}
		sum, missing := dayChecksum(ctx, arc, roots, d.Date)
		if len(missing) > 0 {
			continue // reported per file above
		}
		if d.Checksum != "" && sum != d.Checksum {
			rep.Problems = append(rep.Problems, Problem{Date: d.Date, File: arc.Location(""),
				Message: fmt.Sprintf("day checksum of the manifests in the archive is %s, recorded %s", sum, d.Checksum)})
		}
	}
	sort.SliceStable(rep.Problems, func(a, b int) bool { return rep.Problems[a].Date < rep.Problems[b].Date })
	return rep, nil
}

// rootDirs lists the archive's root directories, dataset/root=X.
func rootDirs(ctx context.Context, arc spx.ArchiveStore) ([]string, error) {
	var dirs []string
	for _, ds := range spx.Datasets {
		roots, err := arc.Dirs(ctx, string(ds))
		if err != nil {
			return nil, err
		}
		for _, r := range roots {
			if strings.HasPrefix(r, "root=") {
				dirs = append(dirs, string(ds)+"/"+r)
			}
		}
	}
	return dirs, nil
}

// dayChecksum recomputes the coordinator's day checksum: SHA-256 over the
// SHA-256s of the day's manifests in directory order (roots from rootDirs).
func dayChecksum(ctx context.Context, arc spx.ArchiveStore, roots []string, d spx.Date) (string, []string) {
	dirs := make([]string, 0, len(roots))
	for _, r := range roots {
		dirs = append(dirs, r+"/date="+d.String())
	}
	sort.Strings(dirs)
	h := sha256.New()
	var missing []string
	for _, rel := range dirs {
		data, err := archive.ReadAll(ctx, arc, path.Join(rel, archive.ManifestName))
		if errors.Is(err, fs.ErrNotExist) {
			continue // no manifest: this root has no files that day
		}
		if err != nil {
			missing = append(missing, rel)
			continue
		}
		sum := sha256.Sum256(data)
		h.Write([]byte(hex.EncodeToString(sum[:])))
	}
	return hex.EncodeToString(h.Sum(nil)), missing
}
