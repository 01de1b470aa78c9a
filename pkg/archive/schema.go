package archive

import (
	"runtime/debug"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/spx-archive/spx/pkg/spx"
)

// SchemaVersion is the version of the Parquet layout this package writes. It
// is stored in every file ("spx.schema_version") and every manifest.
const SchemaVersion = 1

// Metadata keys written into every Parquet file.
const (
	MetaSchemaVersion = "spx.schema_version"
	MetaVersion       = "spx.version"
	MetaDataset       = "spx.dataset"
)

// The contract and time columns that precede a dataset's canonical columns.
const (
	colRoot       = "root"
	colExpiration = "expiration"
	colStrike     = "strike"
	colRight      = "right"
	colDate       = "date"
	colTimestamp  = "timestamp"
	nLeading      = 6
)

// Schema returns the Arrow schema of ds's Parquet files: root, expiration,
// strike, right, date, timestamp (UTC instant of the New York wall clock,
// shown in America/New_York), then ds.Columns() with their source names.
func Schema(ds spx.Dataset) *arrow.Schema {
	fields := []arrow.Field{
		{Name: colRoot, Type: arrow.BinaryTypes.String},
		{Name: colExpiration, Type: arrow.FixedWidthTypes.Date32},
		{Name: colStrike, Type: arrow.PrimitiveTypes.Float64},
		{Name: colRight, Type: arrow.BinaryTypes.String},
		{Name: colDate, Type: arrow.FixedWidthTypes.Date32},
		{Name: colTimestamp, Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "America/New_York"}},
	}
	for _, c := range ds.Columns() {
		fields = append(fields, arrow.Field{Name: c.Name, Type: arrowType(c.Type), Nullable: c.Optional})
	}
	return arrow.NewSchema(fields, nil)
}

func arrowType(t spx.ColumnType) arrow.DataType {
	switch t {
	case spx.Int32:
		return arrow.PrimitiveTypes.Int32
	case spx.Int64:
		return arrow.PrimitiveTypes.Int64
	default:
		return arrow.PrimitiveTypes.Float64
	}
}

// dictionaryColumns are low-cardinality: dictionary encoding makes them
// tiny. Every other column is dictionary-free (PERFORMANCE.md: dictionary
// on high-cardinality floats costs time and size).
var dictionaryColumns = []string{colRoot, colExpiration, colStrike, colRight, colDate}

// writerProperties are the deterministic Parquet settings. created_by is
// fixed and nothing time-dependent is written, so the same input gives the
// same bytes.
func writerProperties(ds spx.Dataset, o Options) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithAllocator(o.Allocator),
		parquet.WithVersion(parquet.V2_6),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithCreatedBy("spx archive v" + strconv.Itoa(SchemaVersion)),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(zstdLevel),
		parquet.WithStats(true),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(o.RowGroupRows)),
		parquet.WithBatchSize(int64(o.BatchRows)),
	}
	if o.dataPageSize > 0 {
		props = append(props, parquet.WithDataPageSize(o.dataPageSize))
	}
	for _, c := range dictionaryColumns {
		props = append(props, parquet.WithDictionaryFor(c, true))
	}
	props = append(props, parquet.WithEncodingFor(colTimestamp, intEncoding))
	for _, c := range ds.Columns() {
		switch c.Type {
		case spx.Int32, spx.Int64:
			props = append(props, parquet.WithEncodingFor(c.Name, intEncoding))
		case spx.Float64:
			props = append(props, parquet.WithEncodingFor(c.Name, floatEncoding))
		}
	}
	return parquet.NewWriterProperties(props...)
}

// Encodings of the dictionary-free columns. Measured on 1.17M rows of
// synthetic greeks (prices with 2 decimals, greeks with 4): PLAIN + zstd
// gives 30.4 MB, BYTE_STREAM_SPLIT + zstd 66.9 MB (splitting the bytes of
// short decimals hides the repeats zstd finds), so floats stay PLAIN.
// DELTA_BINARY_PACKED is marginally smaller than PLAIN for the sorted
// timestamp and ms_of_day columns.
var (
	floatEncoding = parquet.Encodings.Plain
	intEncoding   = parquet.Encodings.DeltaBinaryPacked
)

// fileMetadata is the key/value metadata of a file, sorted by key so it is
// deterministic.
func fileMetadata(ds spx.Dataset, extra map[string]string) [][2]string {
	m := map[string]string{
		MetaSchemaVersion: strconv.Itoa(SchemaVersion),
		MetaVersion:       spxVersion(),
		MetaDataset:       string(ds),
	}
	for k, v := range extra {
		m[k] = v
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([][2]string, len(keys))
	for i, k := range keys {
		kv[i] = [2]string{k, m[k]}
	}
	return kv
}

// spxVersion is the module version of the running binary ("(devel)" for a
// local build). It is fixed per binary, so files stay reproducible.
func spxVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// zstdLevel is the zstd level of every column. Measured on 1.17M rows:
// level 1 costs 17% less CPU but makes the file 8% larger.
const zstdLevel = 3
