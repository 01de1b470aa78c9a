package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spx-archive/spx/pkg/spx"
)

// run is a maximal stretch of input lines of one contract in time order.
// The terminal sends each contract contiguously, so an input is normally a
// few hundred runs however many rows it has.
type run struct {
	contract  int32 // index into plan.contracts
	firstLine int64 // 1-based line number of the run's first line
	lines     int64 // physical lines, blank ones included
	off, end  int64 // byte range in the input
	firstTs   int64
	lastTs    int64
}

// segment is a piece of output in order: a byte range of the input whose
// lines are already in output order, or (gather) the runs of one contract
// whose times overlap, to be merged line by line.
type segment struct {
	off, end  int64
	firstLine int64
	gather    []run
}

// plan is the result of the planning pass.
type plan struct {
	rows      int64 // -1 when streaming (not known in advance)
	check     bool  // streaming: check the order while decoding
	bytes     int64
	contracts []contractKey
	sorted    bool
	segments  []segment
}

// readBlock is the planning pass's read size.
const readBlock = 4 << 20

// maxLine bounds one NDJSON line; a staged row is a few hundred bytes.
const maxLine = 1 << 20

// planInput reads src once, checks every line's key and works out how to
// emit the rows in (root, expiration, strike, right, time) order with
// bounded memory: straight through when the input is already sorted,
// otherwise contract runs in sorted order read back by offset. The input is
// split at line boundaries into parts planned in parallel.
func planInput(ctx context.Context, ds spx.Dataset, src io.ReaderAt, size int64, parallelism int) (*plan, error) {
	bounds, err := splitLines(src, size, parallelism)
	if err != nil {
		return nil, err
	}
	parts := make([]*partPlan, len(bounds)-1)
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], errs[i] = planPart(ctx, newDecoder(ds), src, bounds[i], bounds[i+1])
		}()
	}
	wg.Wait()

	p := &plan{bytes: size, sorted: true}
	ids := map[contractKey]int32{}
	var runs []run
	var lines int64
	for i, pp := range parts {
		if errs[i] != nil {
			var le *LineError
			if errors.As(errs[i], &le) {
				le.Line += lines // part-local line numbers
			}
			return nil, errs[i]
		}
		p.rows += pp.rows
		p.sorted = p.sorted && pp.sorted
		first := true
		for _, r := range pp.runs {
			ck := pp.contracts[r.contract]
			id, ok := ids[ck]
			if !ok {
				id = int32(len(p.contracts))
				ids[ck] = id
				p.contracts = append(p.contracts, ck)
			}
			r.contract = id
			r.firstLine += lines
			if first && len(runs) > 0 {
				first = false
				last := &runs[len(runs)-1]
				if last.contract == id && r.firstTs >= last.lastTs && last.end == r.off {
					last.lines += r.lines
					last.end, last.lastTs = r.end, r.lastTs
					continue
				}
				if ck.compare(p.contracts[last.contract]) <= 0 {
					p.sorted = false
				}
			}
			first = false
			runs = append(runs, r)
		}
		lines += pp.lines
	}
	if p.rows == 0 {
		return p, nil
	}
	if p.sorted {
		p.segments = []segment{{off: 0, end: size, firstLine: 1}}
		return p, nil
	}
	p.segments = orderRuns(runs, p.contracts)
	return p, nil
}

// minSplit is the smallest input planned in parallel (a variable for
// tests).
var minSplit int64 = 8 << 20

// splitLines cuts [0, size) into up to n parts that start at line starts.
func splitLines(src io.ReaderAt, size int64, n int) ([]int64, error) {
	bounds := []int64{0}
	if size < minSplit {
		n = 1 // not worth it
	}
	buf := make([]byte, maxLine+1)
	for i := 1; i < n; i++ {
		at := size * int64(i) / int64(n)
		if at <= bounds[len(bounds)-1] {
			continue
		}
		k, err := src.ReadAt(buf[:min(int64(len(buf)), size-at)], at)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading input at byte %d: %w", at, err)
		}
		nl := bytes.IndexByte(buf[:k], '\n')
		if nl < 0 {
			continue // a giant line: the part before reports it
		}
		if cut := at + int64(nl) + 1; cut < size {
			bounds = append(bounds, cut)
		}
	}
	return append(bounds, size), nil
}

// partPlan is the planning result of one part of the input; contract ids
// and line numbers are local to the part.
type partPlan struct {
	rows, lines int64
	contracts   []contractKey
	runs        []run
	sorted      bool
}

// planPart reads the lines in [from, to) of src.
func planPart(ctx context.Context, d *decoder, src io.ReaderAt, from, to int64) (*partPlan, error) {
	p := &partPlan{sorted: true}
	ids := map[contractKey]int32{}
	scratch := newBatch(memory.DefaultAllocator, memory.DefaultAllocator, d.cols, 1)
	defer scratch.release()
	var cur *run
	var prevKey contractKey
	havePrev := false

	buf := make([]byte, 0, readBlock+maxLine)
	off := from // input offset of buf[0]
	pos := from // next byte to read
	line := int64(0)
	eof := false
	for !eof || len(buf) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !eof && len(buf) < readBlock {
			want := min(int64(cap(buf)-len(buf)), to-pos)
			n, err := src.ReadAt(buf[len(buf):len(buf)+int(want)], pos)
			buf = buf[:len(buf)+n]
			pos += int64(n)
			if err != nil && err != io.EOF {
				return nil, err
			}
			if pos >= to {
				eof = true
			}
		}
		consumed := 0
		for {
			nl := bytes.IndexByte(buf[consumed:], '\n')
			var ln []byte
			var next int
			switch {
			case nl >= 0:
				ln, next = buf[consumed:consumed+nl], consumed+nl+1
			case eof && consumed < len(buf):
				ln, next = buf[consumed:], len(buf)
			default:
				next = -1
			}
			if next < 0 {
				break
			}
			line++
			lineOff := off + int64(consumed)
			consumed = next
			if len(ln) > maxLine {
				return nil, newLineError(line, ln, "line longer than 1 MiB")
			}
			if isBlank(ln) {
				if cur != nil {
					cur.lines++
					cur.end = off + int64(next)
				}
				continue
			}
			k, reason := d.key(ln, scratch)
			if reason != "" {
				return nil, newLineError(line, ln, reason)
			}
			p.rows++
			id, ok := ids[k.contract]
			if !ok {
				id = int32(len(p.contracts))
				ids[k.contract] = id
				p.contracts = append(p.contracts, k.contract)
			}
			if cur != nil && cur.contract == id && k.ts >= cur.lastTs {
				cur.lines++
				cur.end = off + int64(next)
				cur.lastTs = k.ts
				continue
			}
			if havePrev && k.contract.compare(prevKey) <= 0 {
				p.sorted = false
			}
			prevKey, havePrev = k.contract, true
			p.runs = append(p.runs, run{contract: id, firstLine: line, lines: 1, off: lineOff, end: off + int64(next), firstTs: k.ts, lastTs: k.ts})
			cur = &p.runs[len(p.runs)-1]
		}
		if len(buf)-consumed > maxLine {
			return nil, newLineError(line+1, buf[consumed:], "line longer than 1 MiB")
		}
		n := copy(buf, buf[consumed:])
		buf = buf[:n]
		off += int64(consumed)
	}
	p.lines = line
	return p, nil
}

// orderRuns sorts runs by contract then time and turns them into output
// segments. A contract whose runs do not overlap in time is emitted run by
// run; one whose runs interleave (rows shuffled) is gathered and merged.
func orderRuns(runs []run, contracts []contractKey) []segment {
	rank := make([]int32, len(contracts))
	order := make([]int32, len(contracts))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return contracts[a].compare(contracts[b]) })
	for r, id := range order {
		rank[id] = int32(r)
	}
	slices.SortStableFunc(runs, func(a, b run) int {
		if c := int(rank[a.contract]) - int(rank[b.contract]); c != 0 {
			return c
		}
		switch {
		case a.firstTs < b.firstTs:
			return -1
		case a.firstTs > b.firstTs:
			return 1
		}
		return 0 // stable: input order
	})
	var segs []segment
	for i := 0; i < len(runs); {
		j := i + 1
		overlap := false
		for j < len(runs) && runs[j].contract == runs[i].contract {
			if runs[j].firstTs < runs[j-1].lastTs {
				overlap = true
			}
			j++
		}
		if overlap {
			segs = append(segs, segment{gather: runs[i:j]})
		} else {
			for _, r := range runs[i:j] {
				if n := len(segs); n > 0 && segs[n-1].gather == nil && segs[n-1].end == r.off {
					segs[n-1].end = r.end
					continue
				}
				segs = append(segs, segment{off: r.off, end: r.end, firstLine: r.firstLine})
			}
		}
		i = j
	}
	return segs
}
