//! The object-store calls of a Distributed Map's ItemReader and ResultWriter: which store,
//! the rendered `Parameters` and bucket, and retries of transient failures.
//!
//! A throttled or briefly unavailable store is tried again, as the service's own S3 client
//! does, up to three more times with doubling waits (100, 200, 400 ms; instant on a virtual
//! clock); a missing object, a denied call or anything else fails at once. Either way the
//! caller turns what is left into `States.ItemReaderFailed` or `States.ResultWriterFailed`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::MapCall;
use crate::asl::Payload;
use crate::engine::Engine;
use crate::error::StatesError;
use crate::resolve::{BoxFuture, ItemStore, ItemStoreError};

/// Transient store failures are tried this many more times.
const STORE_RETRIES: u32 = 3;
/// The first retry of a store call waits this long; each next one twice as long.
const STORE_RETRY_BASE_MILLIS: u64 = 100;

/// Runs a store call, again after a transient failure (at most [`STORE_RETRIES`] times).
pub(super) async fn retrying<'s, T, F>(mut call: F) -> Result<T, ItemStoreError>
where
    F: FnMut() -> BoxFuture<'s, Result<T, ItemStoreError>>,
{
    let mut retries = 0;
    loop {
        match call().await {
            Err(error) if error.kind.is_transient() && retries < STORE_RETRIES => {
                let wait = STORE_RETRY_BASE_MILLIS << retries;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                retries += 1;
            }
            outcome => return outcome,
        }
    }
}

impl Engine {
    /// The store, rendered parameters and bucket of an ItemReader or ResultWriter call; with no
    /// store configured, fails with `error` (the reader's or writer's error name).
    pub(super) fn s3_call(
        &self,
        payload: &Payload,
        call: &MapCall<'_>,
        error: &str,
        what: &str,
    ) -> Result<(&Arc<dyn ItemStore>, Value, String), StatesError> {
        let store = self.store.as_ref().ok_or_else(|| {
            StatesError::new(error, format!("no object store is configured for the {what}"))
        })?;
        let field = match payload {
            Payload::Paths(_) => format!("{what}.Parameters"),
            Payload::Expressions(_) => format!("{what}.Arguments"),
        };
        let parameters = call.language.payload(&field, payload, call.effective, &call.scope)?;
        let bucket =
            parameters.get("Bucket").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok((store, parameters, bucket))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use crate::asl::StateMachine;
    use crate::engine::{Engine, Execution, Status};
    use crate::error::names;
    use crate::resolve::{
        BoxFuture, ItemStore, ItemStoreError, ItemStoreErrorKind, MemoryStore, ObjectEntry,
    };

    /// A memory store whose first `failures` calls of one operation fail with `kind`.
    struct Flaky {
        inner: MemoryStore,
        operation: &'static str,
        kind: ItemStoreErrorKind,
        failures: Mutex<u32>,
        calls: Mutex<u32>,
    }

    impl Flaky {
        fn new(operation: &'static str, kind: ItemStoreErrorKind, failures: u32) -> Arc<Flaky> {
            let inner = MemoryStore::new();
            inner.insert("bucket", "raw/a.json", b"{}".to_vec());
            inner.insert("bucket", "raw/b.json", b"{}".to_vec());
            let (failures, calls) = (Mutex::new(failures), Mutex::new(0));
            Arc::new(Flaky { inner, operation, kind, failures, calls })
        }

        /// Counts a call of `operation`; fails it while failures are left.
        fn call(&self, operation: &str) -> Result<(), ItemStoreError> {
            if operation != self.operation {
                return Ok(());
            }
            let poisoned = || ItemStoreError::new(ItemStoreErrorKind::Other, "poisoned");
            *self.calls.lock().map_err(|_| poisoned())? += 1;
            let mut failures = self.failures.lock().map_err(|_| poisoned())?;
            if *failures == 0 {
                return Ok(());
            }
            *failures -= 1;
            Err(ItemStoreError::new(self.kind, format!("{:?} ({operation})", self.kind)))
        }

        fn calls(&self) -> u32 {
            self.calls.lock().map(|c| *c).unwrap_or(0)
        }
    }

    impl ItemStore for Flaky {
        fn list<'a>(
            &'a self,
            bucket: &'a str,
            prefix: &'a str,
        ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, ItemStoreError>> {
            Box::pin(async move {
                self.call("list")?;
                self.inner.list(bucket, prefix).await
            })
        }

        fn get<'a>(
            &'a self,
            bucket: &'a str,
            key: &'a str,
        ) -> BoxFuture<'a, Result<Vec<u8>, ItemStoreError>> {
            Box::pin(async move {
                self.call("get")?;
                self.inner.get(bucket, key).await
            })
        }

        fn put<'a>(
            &'a self,
            bucket: &'a str,
            key: &'a str,
            body: Vec<u8>,
        ) -> BoxFuture<'a, Result<(), ItemStoreError>> {
            Box::pin(async move {
                self.call("put")?;
                self.inner.put(bucket, key, body).await
            })
        }
    }

    /// Runs a Distributed Map over `raw/` (children pass their item through), with a
    /// ResultWriter to `out/` if asked.
    async fn run(store: &Arc<Flaky>, writer: bool) -> Execution {
        let mut definition = json!({"StartAt": "Files", "States": {"Files": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                           "Parameters": {"Bucket": "bucket", "Prefix": "raw/"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
            },
            "End": true
        }}});
        if writer && let Some(map) = definition.pointer_mut("/States/Files") {
            map["ResultWriter"] = json!({"Resource": "arn:aws:states:::s3:putObject",
                                         "Parameters": {"Bucket": "bucket", "Prefix": "out"}});
        }
        let machine = match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
            Ok(machine) => machine,
            Err(e) => panic!("test definition is invalid: {e}"),
        };
        let engine = Engine::builder().store(store.clone()).build();
        engine.run("m", &machine, json!({}), "e").await
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_reads_are_tried_again() {
        let store = Flaky::new("list", ItemStoreErrorKind::Throttled, 2);
        let execution = run(&store, false).await;
        assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
        assert_eq!(store.calls(), 3);
        assert_eq!(execution.output.map(|o| o.as_array().map(Vec::len)), Some(Some(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_stays_unavailable_fails_the_reader_after_three_retries() {
        let store = Flaky::new("list", ItemStoreErrorKind::Unavailable, 10);
        let execution = run(&store, false).await;
        assert_eq!(execution.status, Status::Failed);
        assert_eq!(execution.error.as_deref(), Some(names::ITEM_READER_FAILED));
        assert_eq!(execution.cause.as_deref(), Some("Unavailable (list)"));
        assert_eq!(store.calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_object_fails_the_reader_at_once() {
        let store = Flaky::new("list", ItemStoreErrorKind::NotFound, 1);
        let execution = run(&store, false).await;
        assert_eq!(execution.error.as_deref(), Some(names::ITEM_READER_FAILED));
        assert_eq!(execution.cause.as_deref(), Some("NotFound (list)"));
        assert_eq!(store.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_denied_write_fails_the_result_writer_at_once() {
        let store = Flaky::new("put", ItemStoreErrorKind::AccessDenied, 1);
        let execution = run(&store, true).await;
        assert_eq!(execution.error.as_deref(), Some(names::RESULT_WRITER_FAILED));
        assert_eq!(execution.cause.as_deref(), Some("AccessDenied (put)"));
        assert_eq!(store.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_write_is_tried_again() {
        let store = Flaky::new("put", ItemStoreErrorKind::Throttled, 1);
        let execution = run(&store, true).await;
        assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
        // SUCCEEDED_0.json twice (throttled, then written), then the manifest.
        assert_eq!(store.calls(), 3);
        let keys = store.inner.keys("bucket");
        assert!(keys.iter().any(|k| k.ends_with("/manifest.json")), "{keys:?}");
        assert!(keys.iter().any(|k| k.ends_with("/SUCCEEDED_0.json")), "{keys:?}");
    }
}
