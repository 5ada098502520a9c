//! Fuzz target `gremlin_escape`: arbitrary bytes become ids, labels, property keys and values
//! (and a Long, a Double and a Date) of two vertices and an edge; the queries the escaping
//! builder writes for them, in every form, must have the structure of the same query built
//! from benign values, and every literal must read back as the value that went in
//! (`graphetl_graph::gremlin_check::check_input`, which the stable tests also run).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = graphetl_graph::gremlin_check::check_input(data) {
        panic!("{error}");
    }
});
