//! The one integration-test binary: the `graphetl` command end to end, and the architecture
//! invariants of the workspace (tidy checks).

mod aggregate;
mod aws;
mod chaos;
mod commands;
mod corpus;
mod distributed_map;
mod e2e;
mod infra;
mod jsonata;
mod pipeline;
mod redrive;
mod serve;
mod states_run;
mod tidy;

/// The CLI's `ItemStore` adapter, the same source file the binary compiles.
#[path = "../../src/commands/items.rs"]
mod items;

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

/// Points a `graphetl` command's standard AWS configuration at the local S3 endpoint, with its
/// test credentials and no shared config files, profiles or instance metadata.
fn on_local_s3<'a>(command: &'a mut Command, endpoint: &str, no_config: &Path) -> &'a mut Command {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", graphetl_storage::LOCAL_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", graphetl_storage::LOCAL_SECRET_KEY)
        .env("AWS_REGION", graphetl_storage::LOCAL_REGION)
        .env("AWS_CONFIG_FILE", no_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", no_config)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
