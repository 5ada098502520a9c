//! Unit tests of the lambda crate, one module per source module: [`transform`], [`extract`],
//! [`aggregate`] and [`load`] (the handlers in `handlers/`) and [`kit`] (settings from the
//! environment). Handler tests run against the real embedded S3 endpoint on 127.0.0.1; the
//! fixtures below (the bucket, the sample, an [`Env`] with a transform handler) are shared.

use std::io::Write;

use graphetl_core::ErrorName;
use graphetl_core::contract::TransformItem;
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use graphetl_transform::TransformOptions;

use crate::handlers::transform::TransformHandler;
use crate::kit::diagnostic;

mod aggregate;
mod extract;
mod kit;
mod load;
mod transform;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "graphetl-test";
const SPEC: &str = include_str!("../../../../datasets/service-calls.toml");
const SAMPLE: &[u8] = include_bytes!(
    "../../../../datasets/service-calls/sample/dt=2026-11-20/hour=03/part-00000.json.gz"
);
const RAW_KEY: &str = "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz";

struct Env {
    _root: tempfile::TempDir,
    work: tempfile::TempDir,
    server: LocalS3,
}

impl Env {
    async fn start() -> Result<Env, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let server = LocalS3::start(root.path()).await?;
        let store = server.store();
        store.ensure_bucket(BUCKET).await?;
        store
            .put_bytes(BUCKET, "datasets/service-calls.toml", SPEC.as_bytes().to_vec(), None)
            .await?;
        Ok(Env { _root: root, work: tempfile::tempdir()?, server })
    }
    fn handler(&self) -> TransformHandler<S3Store> {
        TransformHandler::new(
            self.server.store(),
            TransformOptions::default(),
            self.work.path().to_path_buf(),
        )
    }
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut keys: Vec<String> =
            self.server.store().list(BUCKET, prefix).await?.into_iter().map(|o| o.key).collect();
        keys.sort();
        Ok(keys)
    }
}

fn item(key: &str) -> TransformItem {
    TransformItem {
        bucket: BUCKET.into(),
        key: key.into(),
        dataset: "service-calls".into(),
        run_id: "test-run".into(),
    }
}
