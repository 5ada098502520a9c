//! Tests of the escaping property (`gremlin_check`) over `gremlin`'s query writer: no id,
//! label, key or value can change a query's structure: the text outside string literals
//! equals that of a query built from benign values, and every literal unescapes to the value
//! that went in (proptest, a seeded fuzz loop, the fuzz corpus, and checks that the check
//! itself fails on a broken escaper).

use proptest::prelude::*;

use super::*;
use crate::gremlin::{UpsertForm, build_query};
use crate::gremlin_check::{
    NASTY, Numbers, check_input, check_literal, check_structure, split_literals, unescape,
};

fn nasty_string() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        prop::sample::select(NASTY).prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
        "[a-z]{0,4}",
    ];
    prop::collection::vec(fragment, 0..6).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_string_changes_the_structure(values in prop::collection::vec(nasty_string(), 12)) {
        prop_assert_eq!(check_structure(&values, Numbers::default()), Ok(()));
    }

    #[test]
    fn arbitrary_unicode_strings_round_trip(text in any::<String>()) {
        prop_assert_eq!(check_literal(&text), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_pass_the_fuzz_targets_check(data in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(check_input(&data), Ok(()));
    }

    #[test]
    fn doubles_are_exact_or_omitted(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        let vertex = Vertex::new("v", "L").with("x", PropertyValue::Double(x));
        let query = build_query(UpsertForm::MergePropertyStep, &[vertex], &[]);
        if x.is_finite() {
            let start = query.gremlin.find("'x',").map(|i| i + 4).unwrap_or(0);
            let literal = query.gremlin[start..].split(')').next().unwrap_or("");
            prop_assert!(is_grammar_double(literal), "{} is not a Double literal", literal);
            let back: f64 = literal
                .trim_end_matches('d')
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{literal}: {e}")))?;
            prop_assert_eq!(back.to_bits(), x.to_bits());
            prop_assert_eq!(query.non_finite_omitted, 0);
        } else {
            prop_assert!(!query.gremlin.contains("'x'"));
            prop_assert_eq!(query.non_finite_omitted, 1);
            prop_assert_eq!(query.records, 1);
        }
    }

    #[test]
    fn longs_are_exact(n in any::<i64>()) {
        let vertex = Vertex::new("v", "L").with("n", PropertyValue::Long(n));
        let query = build_query(UpsertForm::MergeSingleMap, &[vertex], &[]);
        let on_create = format!("'n':{n}L]");
        let on_match = format!("'n':single({n}L)");
        prop_assert!(query.gremlin.contains(&on_create), "{}", query.gremlin);
        prop_assert!(query.gremlin.contains(&on_match), "{}", query.gremlin);
    }
}

/// `Sign? Digits ('.' Digits ExponentPart? | ExponentPart) 'd'` from Gremlin.g4.
fn is_grammar_double(text: &str) -> bool {
    fn digits(s: &str) -> (&str, bool) {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (&s[end..], end > 0)
    }
    let Some(body) = text.strip_suffix('d') else { return false };
    let body = body.strip_prefix(['-', '+']).unwrap_or(body);
    let (rest, ok) = digits(body);
    if !ok {
        return false;
    }
    let (rest, has_fraction) = match rest.strip_prefix('.') {
        Some(fraction) => {
            let (rest, ok) = digits(fraction);
            if !ok {
                return false;
            }
            (rest, true)
        }
        None => (rest, false),
    };
    match rest.strip_prefix(['e', 'E']) {
        Some(exponent) => {
            let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            let (rest, ok) = digits(exponent);
            ok && rest.is_empty()
        }
        None => has_fraction && rest.is_empty(),
    }
}

/// A fuzz-style loop: a fixed-seed xorshift generator glues nasty fragments and random code
/// points into 12 values, 3,000 times, and checks the structure property in every form.
#[test]
fn fuzz_structure_with_fixed_seed() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3_000 {
        let values: Vec<String> = (0..12)
            .map(|_| {
                let n_parts = next() % 5;
                (0..n_parts)
                    .map(|_| match next() % 3 {
                        0 => NASTY[(next() % NASTY.len() as u64) as usize].to_owned(),
                        1 => char::from_u32((next() % 0x11_0000) as u32)
                            .map(String::from)
                            .unwrap_or_else(|| "\u{FFFD}".to_owned()),
                        _ => char::from_u32((next() % 0x80) as u32)
                            .map(String::from)
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .collect();
        if let Err(e) = check_structure(&values, Numbers::default()) {
            panic!("round {round}: {e}");
        }
    }
}

/// The cargo-fuzz target's check (`fuzz/fuzz_targets/gremlin_escape.rs`) on the stable
/// toolchain: every file of the checked-in corpus, then 4,000 inputs from a seeded
/// generator (random bytes with nasty fragments and separators spliced in).
#[test]
fn fuzz_target_check_over_the_corpus_and_seeded_inputs() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/gremlin_escape");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the corpus holds {} files", files.len());
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(e) = check_input(&data) {
            panic!("{}: {e}", file.display());
        }
    }
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..4_000 {
        let mut data: Vec<u8> = (0..24).map(|_| next() as u8).collect();
        if round % 4 == 0 {
            // Finite, small numbers a quarter of the time; raw bits (NaN, ±inf) otherwise.
            data[8..16].copy_from_slice(&(next() as f64 / 7.0).to_bits().to_le_bytes());
        }
        for _ in 0..next() % 40 {
            match next() % 4 {
                0 => {
                    data.extend_from_slice(NASTY[(next() % NASTY.len() as u64) as usize].as_bytes())
                }
                1 => data.push(0xFF),
                _ => data.push(next() as u8),
            }
        }
        if let Err(e) = check_input(&data) {
            panic!("round {round} ({data:?}): {e}");
        }
    }
}

#[test]
fn the_fuzz_check_fails_on_a_broken_escaper() {
    // The shared check must notice a broken escaper, or the target proves nothing: a naive
    // writer that pastes the value between quotes lets it add steps to the skeleton.
    let naive = |value: &str| format!("g.V('{value}').id()");
    let (good, _) = split_literals(&naive("b0")).unwrap_or_else(|e| panic!("{e}"));
    let (bad, _) =
        split_literals(&naive("x'); g.V().drop(); ('y")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good, "g.V('').id()");
    assert_ne!(bad, good);
    assert!(unescape(r"\q").is_err());
    assert!(unescape(r"a\u00").is_err());
    assert!(check_literal("it's").is_ok());
}

#[test]
fn the_tokenizer_notices_a_broken_structure() {
    // The test's own tokenizer must catch an unescaped quote, or the properties prove nothing.
    let broken = "g.V('a'); g.V().drop(); ('').id()";
    let (skeleton, _) = split_literals(broken).unwrap_or_else(|e| panic!("{e}"));
    let (good, _) = split_literals("g.V('x').id()").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(skeleton, good);
    assert!(split_literals("g.V('a\\')").is_err());
}
