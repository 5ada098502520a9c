//! Entry point of the per-file transform Lambda. All logic lives in the transform handler.

use graphetl_lambda::handlers::transform::TransformHandler;
use graphetl_lambda::kit;
use graphetl_storage::S3Store;
use graphetl_transform::TransformOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kit::Error> {
    kit::init_tracing();
    let settings = kit::TransformSettings::from_env()?;
    let store = S3Store::from_sdk_config(&kit::sdk_config().await);
    let handler = TransformHandler::new(store, TransformOptions::default(), settings.work_dir);
    kit::run(|item| handler.handle(item)).await
}
