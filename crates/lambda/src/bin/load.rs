//! Entry point of the per-chunk load Lambda. All logic lives in the load handler.

use std::sync::Arc;

use graphetl_graph::{Batcher, Budget, UpsertForm};
use graphetl_lambda::handlers::load::LoadHandler;
use graphetl_lambda::kit;
use graphetl_neptune::NeptuneSink;
use graphetl_neptune::http::{Auth, CachedCredentials, ClientConfig, NeptuneClient};
use graphetl_storage::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kit::Error> {
    kit::init_tracing();
    let settings = kit::LoadSettings::from_env()?;
    let sdk_config = kit::sdk_config().await;
    let auth = if settings.iam_auth {
        let region = sdk_config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or("no region for signing Neptune requests: set AWS_REGION")?;
        let provider = sdk_config
            .credentials_provider()
            .ok_or("no AWS credentials provider for signing Neptune requests")?;
        Auth::Iam { region, credentials: Arc::new(CachedCredentials::new(provider)) }
    } else {
        Auth::None
    };
    let client = Arc::new(NeptuneClient::new(ClientConfig::new(settings.endpoint, auth))?);
    let batcher = Batcher::new(UpsertForm::for_engine(&settings.engine_version), Budget::default());
    let store = S3Store::from_sdk_config(&sdk_config);
    let mut handler = LoadHandler::new(store);
    if let Some(bulk) = settings.bulk.clone() {
        handler = handler.with_bulk(client.clone(), bulk);
    }
    kit::run(|item| {
        let mut sink = NeptuneSink::new(client.clone(), batcher, settings.writers);
        let handler = &handler;
        async move { handler.handle(item, &mut sink).await }
    })
    .await
}
