//! Entry point of the aggregate Lambda (PlanAggregates and each Aggregate Map item). All logic
//! lives in the aggregate handler; queries run on Amazon Athena.

use graphetl_athena::athena::AthenaEngine;
use graphetl_core::contract::AggregateEvent;
use graphetl_lambda::handlers::aggregate::AggregateHandler;
use graphetl_lambda::kit;
use graphetl_storage::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kit::Error> {
    kit::init_tracing();
    let settings = kit::AggregateSettings::from_env()?;
    let sdk_config = kit::sdk_config().await;
    let store = S3Store::from_sdk_config(&sdk_config);
    let engine = AthenaEngine::from_sdk_config(&sdk_config, store.clone(), settings.athena.clone());
    let handler = AggregateHandler::new(store, settings.rows_per_chunk);
    kit::run_with_deadline(|event: AggregateEvent, deadline| {
        let handler = &handler;
        let engine = engine.clone().with_deadline(Some(deadline));
        async move {
            let response = match event {
                AggregateEvent::Plan(request) => serde_json::to_value(handler.plan(request).await?),
                AggregateEvent::Query(request) => {
                    serde_json::to_value(handler.query(request, &engine).await?)
                }
            };
            response.map_err(|e| {
                graphetl_lambda::StepError::new(graphetl_core::ErrorName::Internal, e.to_string())
            })
        }
    })
    .await
}
