//! Files spanning thousands of partitions: every row lands in its partition's file, the spill
//! gives the same bytes as open writers, and the only bound left is the spec's
//! `partition.max_partitions_per_file`.

use super::*;

/// Hourly partitions in the generated file.
const HOURS: u64 = 3_000;
/// Rows per partition (one of them is rejected in some partitions).
const ROWS_PER_HOUR: u64 = 4;

const COLUMNS: &str = r#"
[[columns]]
name = "ts"
type = "timestamp"
required = true
[[columns]]
name = "id"
type = "int"
required = true
[[columns]]
name = "name"
type = "string"
[[columns]]
name = "ok"
type = "bool"
[[columns]]
name = "price"
type = "decimal(10,2)"
[[columns]]
name = "ratio"
type = "float"
[[columns]]
name = "day"
type = "date"
[[columns]]
name = "tags"
type = "list<string>"
separators = ["|"]
[partition]
dt_from = "ts"
hour = true
"#;

/// The hour index and id of every row, in file order: partitions interleave (a stride through
/// the hours), so rows of one partition are far apart and arrive while others are open.
fn rows() -> Vec<(u64, u64)> {
    (0..HOURS * ROWS_PER_HOUR).map(|id| ((id * 7_919) % HOURS, id)).collect()
}

/// A CSV over [`HOURS`] hourly partitions; every 101st row has a bad id and is rejected.
fn many_partitions_csv() -> String {
    let mut csv = String::from("ts,id,name,ok,price,ratio,day,tags\n");
    for (hour, id) in rows() {
        let micros = i64::try_from(hour * 3_600_000_000 + id).unwrap_or_default();
        let ts = format_timestamp(1_700_000_000_000_000 / 3_600_000_000 * 3_600_000_000 + micros);
        let id_text = if id.is_multiple_of(101) { format!("x{id}") } else { id.to_string() };
        let name = if id.is_multiple_of(3) { String::new() } else { format!("\"n, {id}\"") };
        let ok = ["Y", "n", ""][(id % 3) as usize];
        let tags = if id.is_multiple_of(5) { String::new() } else { format!("a{id}|b") };
        csv.push_str(&format!(
            "{ts},{id_text},{name},{ok},{}.{:02},{}.25,2024-01-{:02},{tags}\n",
            id / 7,
            id % 100,
            id % 13,
            id % 28 + 1
        ));
    }
    csv
}

fn many_partitions_spec(extra: &str) -> DatasetSpec {
    csv_spec("", &format!("{COLUMNS}{extra}"))
}

/// Every output file's partition and bytes, and the quarantine's bytes.
type Produced = (Vec<(String, Vec<u8>)>, Vec<u8>);

fn produced(out: &TransformOutput) -> Result<Produced, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for file in &out.files {
        files.push((file.partition.clone(), std::fs::read(&file.path)?));
    }
    let quarantine = match &out.quarantine {
        Some(q) => std::fs::read(&q.path)?,
        None => Vec::new(),
    };
    Ok((files, quarantine))
}

/// Transforms `input` into a fresh work directory (kept alive in the result).
fn run_with(input: &Path, spec: &DatasetSpec, options: &TransformOptions) -> TransformResult {
    let work = Work::new();
    let out = transform_file(spec, input, "raw/t/big.csv", &work.out(), options)?;
    let produced = produced(&out)?;
    let spill_left = work.out().join("spill").exists();
    Ok(Run { out, produced, spill_left, _work: work })
}

struct Run {
    out: TransformOutput,
    produced: Produced,
    spill_left: bool,
    _work: Work,
}

type TransformResult = Result<Run, Box<dyn std::error::Error>>;

#[test]
fn thousands_of_hourly_partitions_through_a_tiny_pool_give_the_same_bytes_as_open_writers()
-> TestResult {
    let work = Work::new();
    let input = work.file("big.csv", many_partitions_csv().as_bytes());
    let spec = many_partitions_spec("");
    // Two open writers and a 4 KiB spill: almost every row goes through many sorted runs.
    let tiny = TransformOptions {
        batch_rows: 3,
        open_writers: 2,
        spill_bytes: 4096,
        ..TransformOptions::default()
    };
    let wide = TransformOptions { open_writers: 10_000, ..tiny.clone() };
    let tiny_run = run_with(&input, &spec, &tiny)?;
    let wide_run = run_with(&input, &spec, &wide)?;
    let (out, spilled, direct) = (&tiny_run.out, &tiny_run.produced, &wide_run.produced);

    let rejected = rows().iter().filter(|(_, id)| id.is_multiple_of(101)).count() as u64;
    assert_eq!((out.rows_in, out.rows_rejected), (HOURS * ROWS_PER_HOUR, rejected));
    assert_eq!(out.rows_in, out.rows_written + out.rows_rejected);
    assert_eq!(out.files.len() as u64, HOURS);
    assert_eq!(out.files.iter().map(|f| f.rows).sum::<u64>(), out.rows_written);
    assert!(!tiny_run.spill_left, "the spill runs are removed once merged");

    // Same partitions, same bytes, same quarantine, whichever path each partition took.
    assert_eq!(spilled.0.len(), direct.0.len());
    for ((p1, b1), (p2, b2)) in spilled.0.iter().zip(&direct.0) {
        assert_eq!(p1, p2);
        assert!(b1 == b2, "{p1}: the spilled file differs from the directly written one");
    }
    assert_eq!(spilled.1, direct.1);
    let parts = |o: &TransformOutput| -> Vec<(String, u64)> {
        o.files.iter().map(|f| (f.partition.clone(), f.rows)).collect()
    };
    assert_eq!(parts(out), parts(&wide_run.out));

    // Every row is in its hour's file, in input order, with its values intact.
    let mut expected: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for file in &out.files {
        let rows = read_rows(&file.path)?;
        let mut ids = Vec::new();
        for row in &rows {
            let (date, time) = row[0].split_once('T').unwrap_or_default();
            let partition = format!("dt={date}/hour={}", &time[..2]);
            assert_eq!(partition, file.partition, "{row:?}");
            let id: u64 = row[1].parse()?;
            assert_eq!(
                row[2],
                if id.is_multiple_of(3) { "∅".to_owned() } else { format!("n, {id}") }
            );
            assert_eq!(
                row[7],
                if id.is_multiple_of(5) { "∅".to_owned() } else { format!("[a{id};b]") }
            );
            ids.push(id);
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{}: {ids:?}", file.partition);
        expected.insert(file.partition.clone(), ids);
    }
    let mut by_hour: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for (hour, id) in rows() {
        if id % 101 != 0 {
            by_hour.entry(hour).or_default().push(id);
        }
    }
    let got: Vec<Vec<u64>> = expected.into_values().collect();
    let want: Vec<Vec<u64>> = by_hour.into_values().collect();
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn default_options_take_thousands_of_partitions_and_the_same_pool_gives_the_same_bytes()
-> TestResult {
    // The old engine failed this file: "more than 256 partitions".
    let work = Work::new();
    let input = work.file("big.csv", many_partitions_csv().as_bytes());
    let spec = many_partitions_spec("");
    let options = TransformOptions::default();
    assert!((options.open_writers as u64) < HOURS, "the file must overflow the default pool");
    let first = run_with(&input, &spec, &options)?;
    assert_eq!(first.out.files.len() as u64, HOURS);
    assert_eq!(first.out.rows_in, first.out.rows_written + first.out.rows_rejected);
    let second = run_with(&input, &spec, &options)?;
    assert!(first.produced == second.produced, "a re-run gives other bytes");
    Ok(())
}

#[test]
fn the_remaining_bound_is_the_spec_key_and_its_error_names_it() -> TestResult {
    let default = many_partitions_spec("");
    let bound = default.partition.as_ref().map(|p| p.max_partitions_per_file);
    assert_eq!(bound, Some(100_000));

    let work = Work::new();
    let input = work.file("big.csv", many_partitions_csv().as_bytes());
    let spec = many_partitions_spec("max_partitions_per_file = 2999\n");
    let e = work.run(&spec, &input).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("more than 2999 partitions"), "{e}");
    assert!(e.contains("partition.max_partitions_per_file"), "{e}");
    let spec = many_partitions_spec("max_partitions_per_file = 3000\n");
    assert_eq!(work.run(&spec, &input)?.files.len() as u64, HOURS);

    let text =
        format!("name = \"t\"\n[input]\nformat = \"csv\"\n{COLUMNS}max_partitions_per_file = 0\n");
    let e = DatasetSpec::from_toml_str(&text, "t.toml").err().map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("partition.max_partitions_per_file: must be at least 1")),
        "{e:?}"
    );
    Ok(())
}
