//! Entry point of the extract Lambda. All logic lives in the extract handler.

use graphetl_extract::HttpOptions;
use graphetl_extract::secrets::aws::AwsSecrets;
use graphetl_lambda::handlers::extract::{ExtractHandler, ExtractOptions};
use graphetl_lambda::kit;
use graphetl_storage::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kit::Error> {
    kit::init_tracing();
    let settings = kit::ExtractSettings::from_env()?;
    let sdk_config = kit::sdk_config().await;
    let store = S3Store::from_sdk_config(&sdk_config);
    let secrets = AwsSecrets::new(&sdk_config);
    let options = ExtractOptions {
        generator_records: settings.generator_records,
        http: HttpOptions { hosts: settings.source_hosts, ..HttpOptions::default() },
        ..ExtractOptions::default()
    };
    let handler = ExtractHandler::new(store, secrets, options);
    kit::run(|request| handler.handle(request)).await
}
