//! Fuzz target `dataset_spec`: arbitrary bytes (decoded lossily) as a dataset spec, a column
//! type and a template; the parser must answer, never panic. The stable suite runs the same
//! calls in graphetl-core's `spec_properties` tests.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = graphetl_core::spec::ColumnType::parse(&text);
    let _ = graphetl_core::spec::Template::parse(&text);
    let _ = graphetl_core::DatasetSpec::from_toml_str(&text, "fuzz.toml");
});
