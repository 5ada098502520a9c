//! The one integration-test binary: the `graphetl` command end to end, and the architecture
//! invariants of the workspace (tidy checks).

mod aggregate;
mod aws;
mod commands;
mod e2e;
mod infra;
mod pipeline;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the built `graphetl` binary from the repository root.
fn graphetl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run graphetl: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
