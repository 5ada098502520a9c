//! The escaping property, as code shared by the property tests, the seeded stable-toolchain
//! fuzz loop (`tests/gremlin_check.rs`) and the cargo-fuzz target `fuzz/fuzz_targets/gremlin_escape.rs`.
//!
//! The property: no id, label, property key or string value can change a query's structure.
//! [`check_structure`] builds the same elements twice, once with the given strings and once with
//! benign markers (`b0`, `b1`, …), in every [`UpsertForm`]; the two queries' skeletons (the text
//! with every single-quoted literal replaced by `''`, see [`split_literals`]) must be equal, and
//! every literal of the real query must unescape ([`unescape`], Java-style as Gremlin's grammar
//! does it) to exactly the value that went in. [`check_input`] turns arbitrary fuzzer bytes
//! into such a case.
//!
//! Compiled for tests and with the `fuzzing` feature only; it is not part of the loader.

use std::collections::BTreeMap;

use crate::gremlin::{UpsertForm, build_query};
use crate::model::{Edge, GraphBatch, GraphDate, PropertyValue, Vertex};

/// Every query form the builder writes.
pub const FORMS: [UpsertForm; 3] =
    [UpsertForm::MergeSingleMap, UpsertForm::MergePropertyStep, UpsertForm::FoldCoalesce];

/// The number of string slots of [`elements`].
pub const SLOTS: usize = 12;

/// Fragments that would break a naive escaper: quotes, backslashes, Groovy interpolation,
/// Gremlin punctuation, controls, line separators, astral characters, escape look-alikes.
pub const NASTY: &[&str] = &[
    "'",
    "\\",
    "\\'",
    "'); g.V().drop(); ('",
    "').drop().V('",
    "\"",
    "\"); g.V().drop(); (\"",
    "$",
    "${x}",
    "::",
    ")",
    "]",
    ",",
    ".",
    "//",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{FEFF}",
    "😀",
    "\u{10FFFF}",
    "é",
    "\\u0027",
    "\\\n",
    "T.id",
    "(from)",
    "single(",
    "datetime('",
    "",
];

/// Non-string values of a case: they appear in both the real and the benign query, so they take
/// part in the build (numbers, omitted non-finite doubles, dates) without being compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Numbers {
    /// A Long property.
    pub long: i64,
    /// A Double property (NaN and ±infinity are omitted by the builder).
    pub double: f64,
    /// A Date property, as epoch milliseconds (left out when outside years 1–9999).
    pub millis: i64,
}

impl Default for Numbers {
    fn default() -> Numbers {
        Numbers { long: 5, double: 0.5, millis: 1_748_736_000_000 }
    }
}

/// Splits query text into its skeleton (each single-quoted literal replaced by `''`) and the raw
/// bodies of the literals. A backslash inside a literal escapes the next character; a double
/// quote or a backslash outside a literal is an error (the writer never emits one).
pub fn split_literals(query: &str) -> Result<(String, Vec<String>), String> {
    let mut skeleton = String::new();
    let mut literals = Vec::new();
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated literal in {query:?}")),
                        Some('\'') => break,
                        Some('\\') => {
                            body.push('\\');
                            body.push(chars.next().ok_or("dangling backslash")?);
                        }
                        Some(other) => body.push(other),
                    }
                }
                skeleton.push_str("''");
                literals.push(body);
            }
            '"' | '\\' => return Err(format!("{c:?} outside a literal in {query:?}")),
            other => skeleton.push(other),
        }
    }
    Ok((skeleton, literals))
}

/// Java-style unescaping as Gremlin's grammar does it (for the escapes the writer emits). A raw
/// control or astral character inside a literal is an error: the writer escapes both.
pub fn unescape(body: &str) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c.is_control() || (c as u32) > 0xFFFF {
            return Err(format!("raw {c:?} in a literal"));
        }
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next() {
            Some('\\') => u16::from(b'\\'),
            Some('\'') => u16::from(b'\''),
            Some('"') => u16::from(b'"'),
            Some('n') => u16::from(b'\n'),
            Some('r') => u16::from(b'\r'),
            Some('t') => u16::from(b'\t'),
            Some('b') => 0x08,
            Some('f') => 0x0c,
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("\\u{hex}: not four hex digits"));
                }
                u16::from_str_radix(&hex, 16).map_err(|e| format!("\\u{hex}: {e}"))?
            }
            other => return Err(format!("unknown escape {other:?}")),
        };
        units.push(unit);
    }
    String::from_utf16(&units).map_err(|e| e.to_string())
}

/// The elements of a case: two vertices and an edge whose ids, labels, keys and string values
/// fill the [`SLOTS`] string slots (missing slots are empty), and a fixed vertex carrying the
/// typed values.
pub fn elements(values: &[String], numbers: Numbers) -> GraphBatch {
    let v = |i: usize| values.get(i).cloned().unwrap_or_default();
    let mut fixed = Vertex::new("fixed", "Fixed")
        .with("count", PropertyValue::Long(numbers.long))
        .with("ok", PropertyValue::Bool(true))
        .with("rate", PropertyValue::Double(numbers.double));
    if let Some(date) = GraphDate::from_epoch_millis(numbers.millis) {
        fixed = fixed.with("when", PropertyValue::Date(date));
    }
    GraphBatch {
        vertices: vec![
            Vertex::new(v(0), v(1)).with(v(2), PropertyValue::String(v(3))),
            Vertex::new(v(4), v(5)).with(v(6), PropertyValue::String(v(7))),
            fixed,
        ],
        edges: vec![Edge::new(v(8), v(9), v(0), v(4)).with(v(10), PropertyValue::String(v(11)))],
    }
}

/// Checks the structure property for one case (up to [`SLOTS`] strings), in every form.
pub fn check_structure(values: &[String], numbers: Numbers) -> Result<(), String> {
    let values: Vec<String> =
        (0..SLOTS).map(|i| values.get(i).cloned().unwrap_or_default()).collect();
    let benign: Vec<String> = (0..SLOTS).map(|i| format!("b{i}")).collect();
    let marker_to_value: BTreeMap<&str, &str> =
        benign.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
    let good = elements(&benign, numbers);
    let real = elements(&values, numbers);
    for form in FORMS {
        let good_query = build_query(form, &good.vertices, &good.edges);
        let real_query = build_query(form, &real.vertices, &real.edges);
        let (good_skeleton, good_literals) = split_literals(&good_query.gremlin)?;
        let (real_skeleton, real_literals) = split_literals(&real_query.gremlin)?;
        if real_skeleton != good_skeleton {
            return Err(format!(
                "{form:?}: structure changed for {values:?}\n{real_skeleton}\n{good_skeleton}"
            ));
        }
        if real_literals.len() != good_literals.len() {
            return Err(format!("{form:?}: literal count changed for {values:?}"));
        }
        for (good_literal, real_literal) in good_literals.iter().zip(&real_literals) {
            let expected = marker_to_value.get(good_literal.as_str()).copied();
            let expected = expected.unwrap_or(good_literal.as_str());
            let got = unescape(real_literal)?;
            if got != expected {
                return Err(format!(
                    "{form:?}: literal {real_literal:?} reads {got:?}, want {expected:?}"
                ));
            }
        }
        if real_query.body().len() != real_query.body_bytes {
            return Err(format!("{form:?}: body_bytes is off for {values:?}"));
        }
    }
    Ok(())
}

/// A case from arbitrary bytes, as the fuzzer gives them: the first 24 bytes (zero-padded) are
/// the [`Numbers`] (little-endian Long, Double bits, Date millis); the rest, split at `0xFF`
/// (a byte UTF-8 never uses), are the string slots, decoded lossily.
pub fn case_from_bytes(data: &[u8]) -> (Vec<String>, Numbers) {
    let mut head = [0u8; 24];
    let taken = data.len().min(24);
    head[..taken].copy_from_slice(&data[..taken]);
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&head[i * 8..i * 8 + 8]);
        bytes
    };
    let numbers = Numbers {
        long: i64::from_le_bytes(word(0)),
        double: f64::from_bits(u64::from_le_bytes(word(1))),
        millis: i64::from_le_bytes(word(2)),
    };
    let values = data[taken..]
        .split(|&b| b == 0xFF)
        .take(SLOTS)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    (values, numbers)
}

/// The fuzz target's check: [`check_structure`] on [`case_from_bytes`], and every string slot
/// on its own through the escaper (one literal that unescapes to the input, no raw control or
/// astral character).
pub fn check_input(data: &[u8]) -> Result<(), String> {
    let (values, numbers) = case_from_bytes(data);
    check_structure(&values, numbers)?;
    for value in &values {
        check_literal(value)?;
    }
    Ok(())
}

/// `text` through [`crate::gremlin::string_literal`] is one literal that reads back as `text`
/// and holds no raw control or astral character.
pub fn check_literal(text: &str) -> Result<(), String> {
    let literal = crate::gremlin::string_literal(text);
    let (skeleton, literals) = split_literals(&literal)?;
    if skeleton != "''" || literals.len() != 1 {
        return Err(format!("{text:?} gave {literal:?}, not one literal"));
    }
    let back = unescape(&literals[0])?;
    if back != text {
        return Err(format!("{text:?} reads back as {back:?}"));
    }
    if literal.chars().any(|c| c.is_control() || (c as u32) > 0xFFFF) {
        return Err(format!("{literal:?} holds a raw control or astral character"));
    }
    Ok(())
}
