//! The bad-input corpus (`testdata/bad-inputs/`, table in docs/bad-inputs.md): every file either
//! fails with one clear reason or has its bad rows quarantined with the reason, and nothing is
//! lost (rows in = rows written + rows quarantined). The 100 MB line is generated here.

use std::io::Read;

use super::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/bad-inputs");

/// What a corpus file must give.
enum Outcome {
    /// The file fails; its message contains this text.
    Fails(&'static str),
    /// The file succeeds with (rows written, rows quarantined), each quarantine record's reason
    /// containing the text, in order.
    Rows(u64, &'static [&'static str]),
}

fn corpus_file(relative: &str) -> PathBuf {
    Path::new(CORPUS).join(relative)
}

fn check(spec: &DatasetSpec, relative: &str, expected: &Outcome) -> TestResult {
    let work = Work::new();
    let result = transform_file(
        spec,
        &corpus_file(relative),
        relative,
        &work.out(),
        &TransformOptions::default(),
    );
    match (expected, result) {
        (Outcome::Fails(text), Err(e)) => {
            let message = e.to_string();
            assert!(message.contains(text), "{relative}: {message:?} lacks {text:?}");
        }
        (Outcome::Rows(written, reasons), Ok(out)) => {
            assert_eq!(out.rows_in, out.rows_written + out.rows_rejected, "{relative}");
            assert_eq!(
                (out.rows_written, out.rows_rejected),
                (*written, reasons.len() as u64),
                "{relative}"
            );
            let lines = quarantine_lines(&out);
            assert_eq!(lines.len(), reasons.len(), "{relative}");
            for (line, reason) in lines.iter().zip(reasons.iter()) {
                let text = line.to_string();
                assert!(text.contains(reason), "{relative}: {text} lacks {reason:?}");
            }
            for file in &out.files {
                for row in read_rows(&file.path)? {
                    assert!(
                        row.iter().all(|v| !v.ends_with('\r') && !v.contains('\u{feff}')),
                        "{relative}: {row:?}"
                    );
                }
            }
        }
        (Outcome::Fails(text), Ok(out)) => {
            panic!("{relative}: expected a failure ({text}), got {out:?}")
        }
        (Outcome::Rows(..), Err(e)) => panic!("{relative}: expected rows, got the error {e}"),
    }
    Ok(())
}

/// Each CSV file of the corpus with its outcome under the products spec.
const PRODUCTS_CORPUS: &[(&str, Outcome)] = &[
    ("truncated.csv.gz", Outcome::Fails("the gzip stream is truncated or corrupt")),
    ("empty-gzip.csv.gz", Outcome::Fails("the file has no data")),
    ("zero-bytes.csv", Outcome::Fails("the file is empty (0 bytes)")),
    ("invalid-utf8.csv", Outcome::Fails("row 2: the text is not valid UTF-8")),
    ("wrong-delimiter.csv", Outcome::Fails("the CSV header is one field containing ';'")),
    ("crlf.csv", Outcome::Rows(3, &[])),
    ("mixed-line-endings.csv", Outcome::Rows(3, &[])),
    ("bom.csv", Outcome::Rows(3, &[])),
    ("quoted-newlines.csv", Outcome::Rows(3, &[])),
    ("duplicate-header.csv", Outcome::Fails("the header names \"PRODUCT_NAME\" twice")),
    ("header-only.csv", Outcome::Rows(0, &[])),
    ("drift-new-column.csv", Outcome::Rows(3, &[])),
    ("drift-missing-required.csv", Outcome::Fails("the header has no field \"PRODUCT_ID\"")),
    ("drift-type-change.csv", Outcome::Rows(1, &["not an integer", "in a decimal"])),
    ("key with spaces é ☕.csv", Outcome::Rows(1, &["key with spaces é ☕.csv"])),
];

#[test]
fn every_csv_corpus_file_fails_clearly_or_quarantines_with_the_reason() -> TestResult {
    let products = spec(PRODUCTS);
    for (name, outcome) in PRODUCTS_CORPUS {
        check(&products, &format!("products/{name}"), outcome)?;
    }
    Ok(())
}

#[test]
fn jsonl_with_a_byte_order_mark_or_crlf_reads_every_line() -> TestResult {
    let calls = spec(SERVICE_CALLS);
    for name in ["bom.jsonl", "crlf.jsonl"] {
        check(&calls, &format!("service-calls/{name}"), &Outcome::Rows(2, &[]))?;
    }
    Ok(())
}

#[test]
fn quoted_newlines_stay_inside_their_values() -> TestResult {
    let work = Work::new();
    let out = work.run(&spec(PRODUCTS), &corpus_file("products/quoted-newlines.csv"))?;
    let names: Vec<String> = out
        .files
        .iter()
        .map(|f| read_rows(&f.path))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|row| row[2].clone())
        .collect();
    assert_eq!(names, ["Kettle\nlarge, 2 l", "Mug\r\nsmall", "Lamp"]);
    Ok(())
}

fn parquet_products() -> DatasetSpec {
    let text = PRODUCTS
        .replace("format = \"csv\"", "format = \"parquet\"")
        .replace("delimiter = \",\"\n", "")
        .replace("header = true\n", "");
    spec(&text)
}

#[test]
fn a_file_named_parquet_that_is_not_parquet_fails_with_one_reason() -> TestResult {
    let products = parquet_products();
    let text = "the file is not Parquet: it does not start and end with the magic bytes PAR1";
    check(&products, "parquet/not-parquet.parquet", &Outcome::Fails(text))?;
    check(&products, "products/truncated.csv.gz", &Outcome::Fails("is it gzip?"))?;
    let work = Work::new();
    let mut cut = Vec::new();
    write_parquet(
        &work.dir.path().join("whole.parquet"),
        vec![("PRODUCT_ID", Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as ArrayRef)],
    )?;
    File::open(work.dir.path().join("whole.parquet"))?.read_to_end(&mut cut)?;
    cut.truncate(cut.len() - 3);
    let input = work.file("cut.parquet", &cut);
    let e = work.run(&products, &input).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("is it a truncated Parquet file?"), "{e}");
    Ok(())
}

#[test]
fn a_parquet_file_with_a_different_schema_fails_naming_the_field() -> TestResult {
    use arrow_array::{Int64Array, StringArray, StructArray};
    let products = parquet_products();
    let work = Work::new();
    // Another table's export: none of the spec's required fields.
    let other = work.dir.path().join("orders.parquet");
    write_parquet(
        &other,
        vec![
            ("ORDER_ID", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("TOTAL", Arc::new(StringArray::from(vec!["1.00", "2.00"]))),
        ],
    )?;
    let e = work.run(&products, &other).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.contains("the file has no field \"PRODUCT_ID\" (required by column product_id); its fields are: ORDER_ID, TOTAL"),
        "{e}"
    );
    // The same table with PRODUCT_ID turned into a struct: a type the column cannot take.
    let nested = work.dir.path().join("nested.parquet");
    let id = StructArray::from(vec![(
        Arc::new(arrow_schema::Field::new("value", DataType::Int64, false)),
        Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
    )]);
    write_parquet(
        &nested,
        vec![
            ("PRODUCT_ID", Arc::new(id) as ArrayRef),
            ("PRODUCT_NAME", Arc::new(StringArray::from(vec!["a", "b"]))),
            ("LAST_UPDATED", Arc::new(StringArray::from(vec!["2024-03-27 01:00:00", "x"]))),
        ],
    )?;
    let e = work.run(&products, &nested).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("field \"PRODUCT_ID\" has Parquet/Arrow type Struct"), "{e}");
    Ok(())
}

/// Writes a file of `head`, then `n_bytes` of `fill` with no newline, then `tail`.
fn long_line_file(path: &Path, head: &[u8], n_bytes: usize, tail: &[u8]) -> TestResult {
    let mut file = std::io::BufWriter::new(File::create(path)?);
    file.write_all(head)?;
    let block = vec![b'x'; 1 << 20];
    let mut left = n_bytes;
    while left > 0 {
        let n = left.min(block.len());
        file.write_all(&block[..n])?;
        left -= n;
    }
    file.write_all(tail)?;
    file.flush()?;
    Ok(())
}

#[test]
fn a_100_mb_line_fails_at_its_row_without_buffering_it() -> TestResult {
    let work = Work::new();
    let products = spec(PRODUCTS);
    let header =
        b"Op,PRODUCT_ID,PRODUCT_NAME,CATEGORY,IS_ACTIVE,CREATED_DATE,PRICE,TAGS,LAST_UPDATED\nI,1,";
    let csv = work.dir.path().join("long.csv");
    long_line_file(&csv, header, 100 << 20, b",k,Y,2024-01-01,1,a,2024-01-01 00:00:00\n")?;
    match work.run(&products, &csv) {
        Err(TransformError::RecordTooLong { row: 1, limit }) => {
            assert_eq!(limit, products.input.max_record_bytes);
        }
        other => panic!("expected RecordTooLong at row 1, got {other:?}"),
    }
    let calls = spec(SERVICE_CALLS);
    let jsonl = work.dir.path().join("long.jsonl");
    let first = b"{\"timestamp\":\"2026-11-20T03:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":1}\n{\"caller\":\"";
    long_line_file(&jsonl, first, 100 << 20, b"\"}\n")?;
    assert!(matches!(work.run(&calls, &jsonl), Err(TransformError::RecordTooLong { row: 2, .. })));
    Ok(())
}
