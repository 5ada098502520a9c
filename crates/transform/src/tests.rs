//! Unit tests of the transform engine: typed output read back from real Parquet, quarantine
//! records, broken files, Parquet input, row-group bounds.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use graphetl_core::DatasetSpec;
use graphetl_core::convert::{format_date, format_decimal, format_timestamp};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{TransformError, TransformOptions, TransformOutput, transform_file};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SERVICE_CALLS: &str = include_str!("../../../datasets/service-calls.toml");
const PRODUCTS: &str = include_str!("../../../datasets/products.toml");

fn spec(text: &str) -> DatasetSpec {
    match DatasetSpec::from_toml_str(text, "test.toml") {
        Ok(spec) => spec,
        Err(e) => panic!("test spec is invalid: {e}"),
    }
}

fn csv_spec(extra_input: &str, columns: &str) -> DatasetSpec {
    spec(&format!("name = \"t\"\n[input]\nformat = \"csv\"\n{extra_input}\n{columns}"))
}

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work { dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")) }
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
        path
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn run(&self, spec: &DatasetSpec, input: &Path) -> Result<TransformOutput, TransformError> {
        transform_file(spec, input, "raw/t/input", &self.out(), &TransformOptions::default())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Renders one cell of a curated Parquet column as text, independently of the engine.
fn render(array: &dyn Array, i: usize) -> String {
    if array.is_null(i) {
        return "∅".into();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_owned(),
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(i).to_string(),
        DataType::Decimal128(_, s) => {
            format_decimal(array.as_primitive::<Decimal128Type>().value(i), *s as u8)
        }
        DataType::Date32 => format_date(array.as_primitive::<Date32Type>().value(i)),
        DataType::Timestamp(..) => {
            format_timestamp(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            let items: Vec<&str> = items.as_string::<i32>().iter().flatten().collect();
            format!("[{}]", items.join(";"))
        }
        other => format!("<{other}>"),
    }
}

fn read_rows(path: &Path) -> Result<Vec<Vec<String>>, Box<dyn std::error::Error>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?.build()?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch?;
        for i in 0..batch.num_rows() {
            rows.push(batch.columns().iter().map(|c| render(c.as_ref(), i)).collect());
        }
    }
    Ok(rows)
}

fn quarantine_lines(output: &TransformOutput) -> Vec<serde_json::Value> {
    let Some(q) = &output.quarantine else { return Vec::new() };
    std::fs::read_to_string(&q.path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

const CALLS_JSONL: &str = r#"{"timestamp":"2026-11-20T03:04:05.123+00:00","caller":"web","callee":"api","protocol":"http","endpoint":"/a","status":200,"latency_ms":12.5,"bytes":1024,"success":"Y","cost":"$1,234.50","tags":"prod, eu-west|canary,,","ignored":{"deep":[1,2]}}
{"timestamp":"2026-11-20T12:10:00+09:00","caller":"api","callee":"db","status":"503","latency_ms":"7","success":"n","cost":"(0.0012)","tags":["a"," b ",""]}

{"timestamp":1795151045123,"caller":"api","callee":"cache","latency_ms":0.25,"success":true,"cost":12,"tags":"NULL","bytes":null}
{"timestamp":"2026-11-20 04:00:00","caller":"web","callee":"api","latency_ms":"fast","success":"maybe"}
{"timestamp":"2026-11-20T03:00:00Z","callee":"api","latency_ms":1}
[1,2,3]
{"timestamp":"2026-11-20T03:00:00Z","caller":"a\"b","callee":"c","latency_ms":1,"cost":"12.345.6"}
{"timestamp":"2026-11-20T03:00:00Z","caller":"x","callee":"y","latency_ms":1e1,"status":{"code":1}}
"#;

#[test]
fn service_calls_jsonl_gives_exactly_the_typed_rows() -> TestResult {
    let work = Work::new();
    let input = work.file("part-0.jsonl", CALLS_JSONL.as_bytes());
    let out = work.run(&spec(SERVICE_CALLS), &input)?;
    assert_eq!((out.rows_in, out.rows_written, out.rows_rejected), (8, 3, 5));
    let partitions: Vec<&str> = out.files.iter().map(|f| f.partition.as_str()).collect();
    assert_eq!(partitions, ["dt=2026-11-20/hour=03", "dt=2026-11-20/hour=05"]);
    let hour03 = read_rows(&out.files[0].path)?;
    // ts, caller, callee, protocol, endpoint, status, latency_ms, bytes, ok, cost, tags
    assert_eq!(
        hour03,
        vec![
            vec![
                "2026-11-20T03:04:05.123000Z",
                "web",
                "api",
                "http",
                "/a",
                "200",
                "12.5",
                "1024",
                "true",
                "1234.5000",
                "[prod;eu-west;canary]"
            ],
            vec![
                "2026-11-20T03:10:00.000000Z",
                "api",
                "db",
                "∅",
                "∅",
                "503",
                "7",
                "∅",
                "false",
                "-0.0012",
                "[a;b]"
            ],
        ]
    );
    let hour05 = read_rows(&out.files[1].path)?;
    assert_eq!(
        hour05,
        vec![vec![
            "2026-11-20T05:04:05.123000Z",
            "api",
            "cache",
            "∅",
            "∅",
            "∅",
            "0.25",
            "∅",
            "true",
            "12.0000",
            "∅"
        ]]
    );
    let q = quarantine_lines(&out);
    let reasons: Vec<(u64, &str, &str)> = q
        .iter()
        .map(|l| {
            (
                l["row"].as_u64().unwrap_or(0),
                l["column"].as_str().unwrap_or("?"),
                l["reason"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (5, "latency_ms", "not a number"),
            (6, "caller", "required value is missing"),
            (7, "", "the line is not a JSON object"),
            (8, "cost", "unexpected characters after the decimal point"),
            (9, "status", "expected a single value, found a JSON object"),
        ][..]
    );
    // Every failure of a row is listed, and the original record is kept for reprocessing.
    assert_eq!(q[0]["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(q[0]["record"]["success"], "maybe");
    assert_eq!(q[0]["file"], "raw/t/input");
    Ok(())
}

#[test]
fn rows_in_equals_written_plus_rejected_and_latency_1e1_is_a_row() -> TestResult {
    // The last line is rejected for its status object; 1e1 alone would be a valid float.
    let work = Work::new();
    let input = work.file("a.jsonl", CALLS_JSONL.as_bytes());
    let out = work.run(&spec(SERVICE_CALLS), &input)?;
    assert_eq!(out.rows_in, out.rows_written + out.rows_rejected);
    assert_eq!(out.quarantine.as_ref().map(|q| q.rows), Some(out.rows_rejected));
    Ok(())
}

const MESSY_CSV_COLUMNS: &str = r#"
[[columns]]
name = "id"
type = "int"
required = true
[[columns]]
name = "active"
type = "bool"
[[columns]]
name = "price"
type = "decimal(8,2)"
[[columns]]
name = "day"
type = "date"
formats = ["%Y-%m-%d", "%d/%m/%Y"]
[[columns]]
name = "tags"
type = "list<string>"
separators = [",", "|"]
[[columns]]
name = "note"
from = "comment"
type = "string"
"#;

#[test]
fn messy_csv_gives_exactly_the_typed_rows() -> TestResult {
    let work = Work::new();
    let csv = "\u{feff}id,active,price,day,tags,comment\n\
               1,Y,\"$1,234.50\",2024-03-27,\"a, b|c\",\"quoted, with comma\"\n\
               2,n,(3.50),27/03/2024,,NULL\n\
               3,yes,12,,x,\"say \"\"hi\"\"\"\n\
               4,maybe,1,2024-03-27,,\n\
               5,Y,123456789,2024-03-27,,\n\
               x,Y,1,2024-03-27,,\n\
               6,Y,1\n";
    let input = work.file("in.csv", csv.as_bytes());
    let out = work.run(&csv_spec("", MESSY_CSV_COLUMNS), &input)?;
    assert_eq!((out.rows_in, out.rows_written, out.rows_rejected), (7, 3, 4));
    assert_eq!(out.files.len(), 1);
    assert_eq!(out.files[0].partition, "");
    assert_eq!(
        read_rows(&out.files[0].path)?,
        vec![
            vec!["1", "true", "1234.50", "2024-03-27", "[a;b;c]", "quoted, with comma"],
            vec!["2", "false", "-3.50", "2024-03-27", "∅", "∅"],
            vec!["3", "true", "12.00", "∅", "[x]", "say \"hi\""],
        ]
    );
    let q = quarantine_lines(&out);
    let got: Vec<(u64, &str)> = q
        .iter()
        .map(|l| (l["row"].as_u64().unwrap_or(0), l["reason"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        got,
        [
            (
                4,
                "not a boolean token (true: Y, y, 1, true, TRUE, True, yes, YES, Yes, T, t; false: N, n, 0, false, FALSE, False, no, NO, No, F, f)"
            ),
            (5, "does not fit decimal(8,2): 9 digits before the point, at most 6"),
            (6, "not an integer"),
            (7, "the row has 3 fields; the header has 6"),
        ][..]
    );
    assert_eq!(q[0]["record"]["active"], "maybe");
    Ok(())
}

#[test]
fn gzip_is_detected_by_magic_bytes_and_by_suffix() -> TestResult {
    let work = Work::new();
    let compressed = gzip(CALLS_JSONL.as_bytes());
    let spec = spec(SERVICE_CALLS);
    for name in ["no-suffix.jsonl", "with-suffix.json.gz"] {
        let input = work.file(name, &compressed);
        let out = work.run(&spec, &input)?;
        assert_eq!((out.rows_in, out.rows_written), (8, 3), "{name}");
    }
    Ok(())
}

#[test]
fn broken_files_end_with_typed_errors() -> TestResult {
    let work = Work::new();
    let calls = spec(SERVICE_CALLS);
    let csv = csv_spec("", MESSY_CSV_COLUMNS);

    let compressed = gzip(CALLS_JSONL.repeat(50).as_bytes());
    let truncated = work.file("t.json.gz", &compressed[..compressed.len() / 2]);
    assert!(matches!(work.run(&calls, &truncated), Err(TransformError::Gzip { .. })));

    let mut bad_utf8 = b"{\"timestamp\":\"2026-11-20T03:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":1}\n".to_vec();
    bad_utf8.extend_from_slice(b"{\"caller\":\"\xff\xfe\"}\n");
    let input = work.file("u.jsonl", &bad_utf8);
    assert!(matches!(work.run(&calls, &input), Err(TransformError::InvalidUtf8 { row: 2 })));

    let input = work.file("semi.csv", b"id;active;price;day;tags;comment\n1;Y;1;2024-01-01;a;b\n");
    let e = work.run(&csv, &input).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            "the CSV header is one field containing ';'; the spec says delimiter ',' (set input.delimiter = \";\"?)"
        )
    );

    let mut long = b"{\"caller\":\"".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10 << 20));
    long.extend_from_slice(b"\"}\n");
    let input = work.file("long.jsonl", &long);
    assert!(matches!(work.run(&calls, &input), Err(TransformError::RecordTooLong { row: 1, .. })));
    let input = work.file("long.csv", &long);
    assert!(matches!(work.run(&csv, &input), Err(TransformError::RecordTooLong { .. })));

    let input = work.file("empty.jsonl", b"");
    assert!(matches!(work.run(&calls, &input), Err(TransformError::EmptyFile)));
    let input = work.file("empty.csv.gz", &gzip(b""));
    assert!(matches!(work.run(&csv, &input), Err(TransformError::NoData)));

    let input = work.file("noid.csv", b"active,price\nY,1\n");
    let e = work.run(&csv, &input).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("the header has no field \"id\" (required by column id)"), "{e}");
    Ok(())
}

#[test]
fn header_only_csv_is_zero_rows_and_optional_missing_fields_are_reported() -> TestResult {
    let work = Work::new();
    let input = work.file("h.csv", b"id,active\n");
    let out = work.run(&csv_spec("", MESSY_CSV_COLUMNS), &input)?;
    assert_eq!((out.rows_in, out.files.len()), (0, 0));
    assert_eq!(out.missing_fields, ["price", "day", "tags", "note"]);
    Ok(())
}

#[test]
fn fail_file_mode_stops_at_the_first_bad_row() -> TestResult {
    let work = Work::new();
    let input = work.file("f.csv", b"id,active,price,day,tags,comment\n1,Y,1,,,\n2,perhaps,1,,,\n");
    let spec = csv_spec("on_bad_row = \"fail_file\"", MESSY_CSV_COLUMNS);
    match work.run(&spec, &input) {
        Err(TransformError::BadRow { row: 2, column, value, .. }) => {
            assert_eq!((column.as_str(), value.as_str()), ("active", "perhaps"));
        }
        other => panic!("expected BadRow at row 2, got {other:?}"),
    }
    Ok(())
}

#[test]
fn csv_without_header_uses_field_names() -> TestResult {
    let work = Work::new();
    let spec = spec(
        "name = \"t\"\n[input]\nformat = \"csv\"\ndelimiter = \"|\"\nheader = false\nfield_names = [\"a\", \"b\"]\n\
         [[columns]]\nname = \"b\"\ntype = \"int\"\n",
    );
    let input = work.file("n.csv", b"x|1\ny|2\n");
    let out = work.run(&spec, &input)?;
    assert_eq!(read_rows(&out.files[0].path)?, vec![vec!["1"], vec!["2"]]);
    Ok(())
}

fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) -> TestResult {
    let batch = RecordBatch::try_from_iter(columns)?;
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(File::create(path)?, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

#[test]
fn dms_parquet_input_with_typed_and_text_columns() -> TestResult {
    use arrow_array::{Decimal128Array, Int32Array, StringArray, TimestampMicrosecondArray};
    let work = Work::new();
    let path = work.dir.path().join("LOAD00000001.parquet");
    let ts = |s: &str| {
        graphetl_core::convert::TimeFormats::new(vec![graphetl_core::convert::TimeFormat::Iso8601])
            .parse_timestamp(s)
            .unwrap_or_default()
    };
    write_parquet(
        &path,
        vec![
            (
                "Op",
                Arc::new(StringArray::from(vec![Some("I"), Some("U"), Some("X"), None]))
                    as ArrayRef,
            ),
            ("PRODUCT_ID", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
            ("PRODUCT_NAME", Arc::new(StringArray::from(vec!["Kettle", "Mug", "Bad op", "Lamp"]))),
            (
                "CATEGORY",
                Arc::new(StringArray::from(vec![
                    Some("kitchen"),
                    Some("kitchen"),
                    None,
                    Some("home"),
                ])),
            ),
            ("IS_ACTIVE", Arc::new(StringArray::from(vec!["Y", "N", "Y", "Y"]))),
            (
                "CREATED_DATE",
                Arc::new(StringArray::from(vec![
                    "2024-03-27 13:45:00",
                    "27-MAR-24",
                    "2024-01-01",
                    "2024-01-02",
                ])),
            ),
            (
                "PRICE",
                Arc::new(
                    Decimal128Array::from(vec![123_450i128, 999, 1, 250_000])
                        .with_precision_and_scale(12, 2)?,
                ),
            ),
            (
                "TAGS",
                Arc::new(StringArray::from(vec![Some("steel,electric"), None, None, Some("led")])),
            ),
            (
                "LAST_UPDATED",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        ts("2024-03-27T01:43:03.888Z"),
                        ts("2024-03-27T02:00:00Z"),
                        ts("2024-03-27T02:00:00Z"),
                        ts("2024-03-28T00:00:00Z"),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
        ],
    )?;
    let mut products = spec(PRODUCTS);
    products.input.format = graphetl_core::spec::InputFormat::Parquet;
    let out = work.run(&products, &path)?;
    assert_eq!((out.rows_in, out.rows_written, out.rows_rejected), (4, 3, 1));
    let parts: Vec<&str> = out.files.iter().map(|f| f.partition.as_str()).collect();
    assert_eq!(parts, ["dt=2024-03-27", "dt=2024-03-28"]);
    assert_eq!(
        read_rows(&out.files[0].path)?,
        vec![
            vec![
                "I",
                "1",
                "Kettle",
                "kitchen",
                "true",
                "2024-03-27",
                "1234.50",
                "[steel;electric]",
                "2024-03-27T01:43:03.888000Z"
            ],
            vec![
                "U",
                "2",
                "Mug",
                "kitchen",
                "false",
                "2024-03-27",
                "9.99",
                "∅",
                "2024-03-27T02:00:00.000000Z"
            ],
        ]
    );
    let q = quarantine_lines(&out);
    assert_eq!(q[0]["reason"], "not one of the allowed values (I, U, D)");
    assert_eq!(q[0]["record"]["PRODUCT_ID"], 3);

    // A Parquet file with another schema fails clearly.
    let other = work.dir.path().join("other.parquet");
    write_parquet(&other, vec![("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef)])?;
    let e = work.run(&products, &other).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.starts_with("the file does not match the spec: the file has no field \"PRODUCT_ID\""),
        "{e}"
    );
    Ok(())
}

#[test]
fn row_groups_are_bounded() -> TestResult {
    let work = Work::new();
    let mut csv = String::from("id\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i}\n"));
    }
    let input = work.file("many.csv", csv.as_bytes());
    let spec = csv_spec("", "[[columns]]\nname = \"id\"\ntype = \"int\"\n");
    let options =
        TransformOptions { batch_rows: 300, row_group_rows: 1000, ..TransformOptions::default() };
    let out = transform_file(&spec, &input, "x", &work.out(), &options)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&out.files[0].path)?)?;
    let groups: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [1000, 1000, 1000, 1000, 1000]);
    let codec = reader.metadata().row_group(0).column(0).compression();
    assert!(matches!(codec, parquet::basic::Compression::ZSTD(_)), "{codec:?}");
    Ok(())
}

mod corpus;
mod partitions;

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_csv_cells_never_panic_and_rows_balance(
            cells in proptest::collection::vec("[ -~]{0,12}", 6..60)
        ) {
            let work = Work::new();
            let mut csv = String::from("id,active,price,day,tags,comment\n");
            for row in cells.chunks(6) {
                let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
                csv.push_str(&quoted.join(","));
                csv.push('\n');
            }
            let input = work.file("p.csv", csv.as_bytes());
            let out = work.run(&csv_spec("", MESSY_CSV_COLUMNS), &input);
            let out = out.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(out.rows_in, out.rows_written + out.rows_rejected);
            prop_assert_eq!(out.rows_in as usize, cells.chunks(6).len());
        }
    }

    use crate::fuzz_check::{Reader, check_input};

    const READERS: [Reader; 4] = [Reader::Csv, Reader::JsonLines, Reader::Gzip, Reader::Parquet];

    /// A valid input of each reader, for the mutation property.
    fn valid_input(reader: Reader) -> Vec<u8> {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/bad-inputs");
        let read = |name: &str| std::fs::read(Path::new(corpus).join(name)).unwrap_or_default();
        match reader {
            Reader::Csv => read("products/quoted-newlines.csv"),
            Reader::JsonLines => read("service-calls/bom.jsonl"),
            Reader::Gzip => gzip(&read("service-calls/crlf.jsonl")),
            Reader::Parquet => {
                let work = Work::new();
                let path = work.dir.path().join("p.parquet");
                let columns: Vec<(&str, ArrayRef)> = vec![
                    ("PRODUCT_ID", Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]))),
                    ("PRODUCT_NAME", Arc::new(arrow_array::StringArray::from(vec!["a", "b", "c"]))),
                    (
                        "LAST_UPDATED",
                        Arc::new(arrow_array::StringArray::from(vec![
                            "2024-03-27 01:00:00",
                            "x",
                            "",
                        ])),
                    ),
                ];
                match write_parquet(&path, columns) {
                    Ok(()) => std::fs::read(&path).unwrap_or_default(),
                    Err(e) => panic!("cannot write the seed Parquet: {e}"),
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn no_reader_panics_or_loses_rows_on_arbitrary_bytes(
            reader in proptest::sample::select(READERS.to_vec()),
            data in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            check_input(reader, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }

        #[test]
        fn no_reader_panics_or_loses_rows_on_a_mutated_valid_file(
            reader in proptest::sample::select(READERS.to_vec()),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut data = valid_input(reader);
            prop_assert!(!data.is_empty());
            for (at, byte) in &edits {
                let i = at.index(data.len());
                data[i] = *byte;
            }
            if truncate {
                data.truncate(cut.index(data.len()));
            }
            check_input(reader, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
    }
}
