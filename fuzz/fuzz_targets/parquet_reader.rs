//! Fuzz target `parquet_reader`: arbitrary bytes as a file for Parquet (raw, and framed as a footer
//! between PAR1 magic bytes). The transform must end (no panic), and a successful one must account
//! for every row read (`graphetl_transform::fuzz_check::check_input`, which the stable property
//! tests also run).

#![no_main]

use graphetl_transform::fuzz_check::{Reader, check_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = check_input(Reader::Parquet, data) {
        panic!("{error}");
    }
});
