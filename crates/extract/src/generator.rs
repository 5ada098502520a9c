//! Synthetic service-call records, deterministic for a seed.
//!
//! The call graph: N services with stable names (`web`, `api`, … then `svc-NNN`), each calling
//! one to five others chosen by a Zipf-like weight, so a few services receive most calls;
//! each record picks an edge with probability ∝ caller weight × callee weight. Latency is
//! lognormal per edge. Error bursts are stretches of the window (10% of it each) in which calls
//! to one callee fail 70% of the time (5xx, `success` false); outside them 1.5% of calls fail.
//! Timestamps rise through the window in the formats the service-calls spec accepts
//! (ISO 8601 with `+00:00`, `Z` or `+09:00`, naive `YYYY-MM-DD HH:MM:SS.fff` UTC, epoch
//! milliseconds). Values are as messy as the spec allows: Y/N, 1/0, yes/no and true/false;
//! numbers as strings; `-`, `NA` and `NULL` nulls; `bytes` sometimes absent; money strings
//! such as `$1,234.50` and `(3.50)`; tags as lists or separated text.
//!
//! Every record draws from its own random stream, seeded from the config's seed and the
//! record's index, so any record can be made on its own ([`GeneratedRecords::record`]): the
//! local source serves pages of millions of records without holding them, and finds a time
//! window's first record by binary search over the index.
//!
//! Exactly `⌊records × bad_row_rate⌋` rows are bad, one defect each, which the transform
//! quarantines: no `caller`, `latency_ms` = `"fast"`, or `timestamp` = `"yesterday"`
//! ([`is_bad_row`] says which rows).

use chrono::{DateTime, Datelike, Timelike, Utc};
use graphetl_core::contract::Window;
use serde_json::{Value, json};

/// The window `graphetl generate` and `serve-source` use when none is given: the sample's.
pub const DEFAULT_WINDOW: &str = "2026-11-20T03:00:00Z/2026-11-20T06:00:00Z";

/// Share of bad rows when none is given (0.5%).
pub const DEFAULT_BAD_ROW_RATE: f64 = 0.005;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Distinct services (at least 2 for any call to happen; 1 gives self-calls).
    pub services: u32,
    /// Records to generate.
    pub records: u64,
    /// Seed: the same config gives the same records.
    pub seed: u64,
    /// Records are spread evenly (with jitter) over `[start, end)`.
    pub window: Window,
    /// Share of bad rows, in `[0, 1]`.
    pub bad_row_rate: f64,
    /// Error bursts in the window.
    pub error_bursts: u32,
}

impl GeneratorConfig {
    /// A config with seed 42, [`DEFAULT_BAD_ROW_RATE`] and two error bursts.
    pub fn new(services: u32, records: u64, window: Window) -> GeneratorConfig {
        GeneratorConfig {
            services,
            records,
            seed: 42,
            window,
            bad_row_rate: DEFAULT_BAD_ROW_RATE,
            error_bursts: 2,
        }
    }
}

/// A record with the instant it stands for (the local source filters on it).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedRecord {
    /// Milliseconds since the Unix epoch, in the window.
    pub at_millis: i64,
    /// The record as the source serves it.
    pub record: Value,
}

impl TimedRecord {
    /// Places a record at the instant of its `field` (ISO 8601, `YYYY-MM-DD HH:MM:SS[.f]` UTC
    /// or epoch milliseconds, as the service-calls spec reads it), e.g. to serve sample files;
    /// a record whose field is missing or does not parse is given back.
    pub fn from_value(record: Value, field: &str) -> Result<TimedRecord, Value> {
        use graphetl_core::convert::{TimeFormat, TimeFormats};
        let formats: Vec<TimeFormat> = ["iso8601", "%Y-%m-%d %H:%M:%S%.f", "epoch_millis"]
            .iter()
            .filter_map(|f| TimeFormat::parse(f).ok())
            .collect();
        let text = match record.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(record),
        };
        match TimeFormats::new(formats).parse_timestamp(&text) {
            Ok(micros) => Ok(TimedRecord { at_millis: micros.div_euclid(1000), record }),
            Err(_) => Err(record),
        }
    }
}

const NAMES: &[&str] = &[
    "web",
    "api",
    "auth",
    "db",
    "cache",
    "orders",
    "payments",
    "inventory",
    "search",
    "queue",
    "shipping",
    "email",
    "users",
    "reco",
    "pricing",
    "notify",
];

/// The stable name of service `index` (`web`, `api`, … then `svc-016`, `svc-017`, …).
pub fn service_name(index: u32) -> String {
    match NAMES.get(index as usize) {
        Some(name) => (*name).to_owned(),
        None => format!("svc-{index:03}"),
    }
}

/// Whether row `index` is one of the bad rows at `rate` (exactly `⌊n × rate⌋` of the first n).
pub fn is_bad_row(index: u64, rate: f64) -> bool {
    let rate = rate.clamp(0.0, 1.0);
    ((index + 1) as f64 * rate).floor() > (index as f64 * rate).floor()
}

/// The number of bad rows among `records` at `rate`.
pub fn bad_rows(records: u64, rate: f64) -> u64 {
    (records as f64 * rate.clamp(0.0, 1.0)).floor() as u64
}

/// The records of `config`, in time order.
pub fn generate(config: &GeneratorConfig) -> impl Iterator<Item = Value> + use<> {
    generate_timed(config).map(|t| t.record)
}

/// The records of `config` with their instants, in time order.
pub fn generate_timed(config: &GeneratorConfig) -> impl Iterator<Item = TimedRecord> + use<> {
    let records = GeneratedRecords::new(config);
    (0..records.len()).map(move |i| records.record(i))
}

/// The records of one config, each made on demand from its index (nothing is held).
#[derive(Debug, Clone)]
pub struct GeneratedRecords {
    generator: std::sync::Arc<Generator>,
}

impl GeneratedRecords {
    /// The records `config` generates.
    pub fn new(config: &GeneratorConfig) -> GeneratedRecords {
        GeneratedRecords { generator: std::sync::Arc::new(Generator::new(config)) }
    }

    /// How many records there are.
    pub fn len(&self) -> u64 {
        if self.generator.edges.is_empty() { 0 } else { self.generator.records }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `index` (below [`GeneratedRecords::len`]).
    pub fn record(&self, index: u64) -> TimedRecord {
        self.generator.record(index)
    }

    /// The instant of record `index`, without making the record.
    pub fn at_millis(&self, index: u64) -> i64 {
        self.generator.at_millis(&mut self.generator.stream(index), index)
    }

    /// The index of the first record at or after `millis` (`len()` if none): instants rise
    /// with the index.
    pub fn partition_point(&self, millis: i64) -> u64 {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.at_millis(mid) < millis {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }
}

#[derive(Debug)]
struct Edge {
    caller: String,
    callee: u32,
    callee_name: String,
    mu: f64,
    sigma: f64,
    protocol: &'static str,
}

#[derive(Debug)]
struct Burst {
    callee: u32,
    from_millis: i64,
    to_millis: i64,
}

#[derive(Debug)]
struct Generator {
    seed: u64,
    edges: Vec<Edge>,
    cumulative: Vec<f64>,
    bursts: Vec<Burst>,
    start_millis: i64,
    span_millis: f64,
    records: u64,
    bad_row_rate: f64,
}

fn zipf_weight(rank: u32) -> f64 {
    1.0 / f64::from(rank + 1).powf(1.1)
}

impl Generator {
    fn new(config: &GeneratorConfig) -> Generator {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let n = config.services.max(1);
        let weights: Vec<f64> = (0..n).map(zipf_weight).collect();
        let total: f64 = weights.iter().sum();
        let mut edges = Vec::new();
        let mut edge_weights = Vec::new();
        for caller in 0..n {
            let others = n.saturating_sub(1);
            let degree = if others == 0 { 1 } else { 1 + rng.u32(0..others.min(5)) };
            let mut callees: Vec<u32> = Vec::new();
            let mut tries = 0;
            while (callees.len() as u32) < degree && tries < 200 {
                tries += 1;
                let mut pick = rng.f64() * total;
                let mut callee = n - 1;
                for (j, w) in weights.iter().enumerate() {
                    if pick < *w {
                        callee = j as u32;
                        break;
                    }
                    pick -= w;
                }
                if (callee == caller && others > 0) || callees.contains(&callee) {
                    continue;
                }
                callees.push(callee);
            }
            callees.sort_unstable();
            for callee in callees {
                let u = rng.f64();
                edges.push(Edge {
                    caller: service_name(caller),
                    callee,
                    callee_name: service_name(callee),
                    mu: (8.0 + 60.0 * u * u).ln(),
                    sigma: 0.25 + 0.35 * rng.f64(),
                    protocol: if rng.bool() { "http" } else { "grpc" },
                });
                edge_weights.push(weights[caller as usize] * weights[callee as usize]);
            }
        }
        let mut cumulative = Vec::with_capacity(edge_weights.len());
        let mut sum = 0.0;
        for w in edge_weights {
            sum += w;
            cumulative.push(sum);
        }
        let start_millis = config.window.start().timestamp_millis();
        let span = (config.window.end().timestamp_millis() - start_millis).max(1);
        let burst_len = (span / 10).max(1);
        let bursts = (0..config.error_bursts)
            .filter_map(|_| {
                let edge = edges.get(rng.usize(0..edges.len().max(1)))?;
                let from = start_millis + (rng.f64() * (span - burst_len) as f64) as i64;
                Some(Burst { callee: edge.callee, from_millis: from, to_millis: from + burst_len })
            })
            .collect();
        Generator {
            seed: config.seed,
            edges,
            cumulative,
            bursts,
            start_millis,
            span_millis: span as f64,
            records: config.records,
            bad_row_rate: config.bad_row_rate,
        }
    }

    fn pick_edge(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        self.cumulative.partition_point(|c| *c <= x).min(self.edges.len().saturating_sub(1))
    }

    fn normal(rng: &mut fastrand::Rng) -> f64 {
        // Box-Muller.
        let u1 = rng.f64().max(f64::MIN_POSITIVE);
        let u2 = rng.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> T {
        items[rng.usize(0..items.len())]
    }

    fn timestamp(rng: &mut fastrand::Rng, millis: i64) -> Value {
        let roll = rng.u32(0..100);
        let (shift_hours, suffix, separator) = match roll {
            0..50 => (0, "+00:00", 'T'),
            50..60 => (0, "Z", 'T'),
            60..70 => (9, "+09:00", 'T'),
            70..80 => (0, "", ' '),
            _ => return json!(millis),
        };
        let local = millis + shift_hours * 3_600_000;
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(local) else {
            return json!(millis);
        };
        // Formatted by hand: chrono's strftime path costs more than the rest of a record.
        json!(format!(
            "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}.{:03}{suffix}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            local.rem_euclid(1000)
        ))
    }

    fn money(rng: &mut fastrand::Rng) -> Value {
        let cents = rng.u64(0..200_000);
        let roll = rng.u32(0..100);
        match roll {
            0..30 => json!("NULL"),
            30..50 => {
                let whole = (cents / 100).to_string();
                let mut grouped = String::new();
                for (i, c) in whole.chars().enumerate() {
                    if i > 0 && (whole.len() - i).is_multiple_of(3) {
                        grouped.push(',');
                    }
                    grouped.push(c);
                }
                json!(format!("${grouped}.{:02}", cents % 100))
            }
            50..70 => json!(format!("0.{:04}", rng.u32(0..10_000))),
            70..85 => json!(format!("({}.50)", rng.u32(0..10))),
            85..95 => json!("NA"),
            _ => json!("-"),
        }
    }

    /// Record `i`'s own random stream.
    fn stream(&self, i: u64) -> fastrand::Rng {
        // splitmix64 of the seed and the index: neighbouring indices get unrelated streams.
        let mut z = self.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        fastrand::Rng::with_seed(z ^ (z >> 31))
    }

    /// Record `i`'s instant: the first draw of its stream. Record i falls in the i-th of
    /// `records` equal slices of the window, so instants rise with the index.
    fn at_millis(&self, rng: &mut fastrand::Rng, i: u64) -> i64 {
        let offset = ((i as f64 + rng.f64()) * self.span_millis / self.records as f64) as i64;
        self.start_millis + offset.min(self.span_millis as i64 - 1).max(0)
    }

    fn record(&self, i: u64) -> TimedRecord {
        let rng = &mut self.stream(i);
        let at_millis = self.at_millis(rng, i);
        let e = self.pick_edge(rng);
        let in_burst = self.bursts.iter().any(|b| {
            b.callee == self.edges[e].callee && (b.from_millis..b.to_millis).contains(&at_millis)
        });
        let failed = rng.f64() < if in_burst { 0.7 } else { 0.015 };
        let status: u16 = if failed {
            Self::pick(rng, &[500, 503, 503, 502, 504])
        } else if rng.u32(0..100) < 2 {
            Self::pick(rng, &[404, 400, 409])
        } else {
            Self::pick(rng, &[200, 200, 200, 200, 200, 200, 200, 200, 201, 204])
        };
        let success = if rng.u32(0..100) < 3 {
            "-"
        } else if failed {
            Self::pick(rng, &["N", "n", "0", "false", "no"])
        } else {
            Self::pick(rng, &["Y", "y", "1", "true", "yes", "True"])
        };
        let z = Self::normal(rng);
        let edge = &self.edges[e];
        let latency = ((edge.mu + edge.sigma * z).exp() * 100.0).round() / 100.0;
        let (caller, callee, protocol) =
            (edge.caller.clone(), edge.callee_name.clone(), edge.protocol);
        let endpoint = format!("/{callee}/v1/{}", Self::pick(rng, &["get", "put", "list"]));
        let timestamp = Self::timestamp(rng, at_millis);
        let status_value =
            if rng.u32(0..100) < 5 { json!(status.to_string()) } else { json!(status) };
        let latency_value =
            if rng.u32(0..100) < 8 { json!(format!("{latency}")) } else { json!(latency) };
        let cost = Self::money(rng);
        let tags = match rng.u32(0..5) {
            0 => json!(""),
            1 => json!("prod, us-east"),
            2 => json!("staging||"),
            3 => json!(["prod", "beta"]),
            _ => json!("prod,eu-west|canary"),
        };
        let protocol = if rng.u32(0..100) < 2 { "-" } else { protocol };
        let mut record = json!({
            "timestamp": timestamp,
            "caller": caller,
            "callee": callee,
            "protocol": protocol,
            "endpoint": endpoint,
            "status": status_value,
            "latency_ms": latency_value,
            "success": success,
            "cost": cost,
            "tags": tags,
        });
        let bytes_roll = rng.u32(0..100);
        if let Some(map) = record.as_object_mut() {
            match bytes_roll {
                0..3 => {}
                3..5 => {
                    map.insert("bytes".into(), json!("-"));
                }
                5..6 => {
                    map.insert("bytes".into(), json!("NA"));
                }
                _ => {
                    let bytes = (6.0 + 2.0 * rng.f64()).exp().round() as u64 * 8;
                    map.insert("bytes".into(), json!(bytes));
                }
            }
            if is_bad_row(i, self.bad_row_rate) {
                match rng.u32(0..3) {
                    0 => {
                        map.remove("caller");
                    }
                    1 => {
                        map.insert("latency_ms".into(), json!("fast"));
                    }
                    _ => {
                        map.insert("timestamp".into(), json!("yesterday"));
                    }
                }
            }
        }
        TimedRecord { at_millis, record }
    }
}

/// Whether a generated record carries one of the planted defects.
pub fn has_planted_defect(record: &Value) -> bool {
    record.get("caller").is_none()
        || record.get("latency_ms").and_then(Value::as_str) == Some("fast")
        || record.get("timestamp").and_then(Value::as_str) == Some("yesterday")
}
