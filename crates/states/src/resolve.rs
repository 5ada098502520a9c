//! What a Task calls when it runs locally: Rust functions standing in for Lambda functions (with
//! Lambda-like concurrency limits), other local state machines, and an object store for the
//! Distributed Map's ItemReader and ResultWriter.
//!
//! References are resolved the way the ASL writes them: a `${Placeholder}`, a function or state
//! machine ARN, or a bare name all resolve to the same registered name.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Semaphore;

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failed invocation as Lambda reports it: `errorType` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// The error name (the Lambda `errorType`), matched by `ErrorEquals`.
    pub error_type: String,
    /// The message.
    pub error_message: String,
}

impl FunctionError {
    /// Builds an error.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> FunctionError {
        FunctionError { error_type: error_type.into(), error_message: error_message.into() }
    }
}

/// A function the local runner can invoke in place of a Lambda function.
pub trait LocalFunction: Send + Sync {
    /// Invokes the function with an event; returns its response or its error.
    fn invoke(&self, payload: Value) -> BoxFuture<'_, Result<Value, FunctionError>>;
}

impl<F, Fut> LocalFunction for F
where
    F: Fn(Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, FunctionError>> + Send + 'static,
{
    fn invoke(&self, payload: Value) -> BoxFuture<'_, Result<Value, FunctionError>> {
        Box::pin(self(payload))
    }
}

/// The name a reference resolves to: `${Name}` → `Name`, an ARN → its resource name
/// (`…:function:name[:qualifier]` → `name`, `…:stateMachine:name` → `name`), else as written.
pub fn resolve_name(reference: &str) -> String {
    if let Some(inner) = reference.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        return inner.to_owned();
    }
    if reference.starts_with("arn:") {
        let parts: Vec<&str> = reference.split(':').collect();
        if let Some(kind_at) = parts.iter().position(|p| matches!(*p, "function" | "stateMachine"))
            && let Some(name) = parts.get(kind_at + 1)
        {
            return (*name).to_owned();
        }
    }
    reference.to_owned()
}

struct Registered {
    function: Arc<dyn LocalFunction>,
    limit: Option<Arc<Semaphore>>,
}

/// The registry of local functions, each with an optional concurrency limit.
#[derive(Default)]
pub struct Functions {
    entries: HashMap<String, Registered>,
    invocations: Mutex<BTreeMap<String, u64>>,
    throttles: Mutex<BTreeMap<String, u64>>,
}

impl Functions {
    /// An empty registry.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Registers `function` under `name` (a placeholder name, function name or ARN); with
    /// `concurrency`, calls beyond that many at once fail with
    /// `Lambda.TooManyRequestsException` as a throttled Lambda does.
    pub fn register(
        &mut self,
        name: &str,
        function: Arc<dyn LocalFunction>,
        concurrency: Option<usize>,
    ) {
        let limit = concurrency.map(|n| Arc::new(Semaphore::new(n)));
        self.entries.insert(resolve_name(name), Registered { function, limit });
    }

    /// Invokes the function a reference resolves to.
    pub async fn invoke(&self, reference: &str, payload: Value) -> Result<Value, FunctionError> {
        let name = resolve_name(reference);
        let Some(entry) = self.entries.get(&name) else {
            return Err(FunctionError::new(
                "Lambda.ResourceNotFoundException",
                format!(
                    "Function not found: {reference} (no local function is registered as \"{name}\")"
                ),
            ));
        };
        let _permit = match &entry.limit {
            Some(limit) => match limit.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    if let Ok(mut throttles) = self.throttles.lock() {
                        *throttles.entry(name.clone()).or_default() += 1;
                    }
                    return Err(FunctionError::new(
                        "Lambda.TooManyRequestsException",
                        "Rate Exceeded. (Service: Lambda, Status Code: 429, Request ID: local)",
                    ));
                }
            },
            None => None,
        };
        if let Ok(mut invocations) = self.invocations.lock() {
            *invocations.entry(name).or_default() += 1;
        }
        entry.function.invoke(payload).await
    }

    /// Invocations that ran, per function.
    pub fn invocations(&self) -> BTreeMap<String, u64> {
        self.invocations.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Invocations refused by the concurrency limit, per function.
    pub fn throttles(&self) -> BTreeMap<String, u64> {
        self.throttles.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// One object as `s3:listObjectsV2` items describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag (quotes included, as S3 reports it).
    pub etag: String,
    /// Last modification, ISO-8601.
    pub last_modified: String,
}

/// What kind of object-store failure happened, which decides whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemStoreErrorKind {
    /// The store is throttling requests (S3 `SlowDown`, HTTP 503/429); transient.
    Throttled,
    /// The store is briefly unreachable or failing (timeouts, HTTP 5xx); transient.
    Unavailable,
    /// The bucket or object does not exist (`NoSuchKey`, `NoSuchBucket`).
    NotFound,
    /// The caller may not read or write it.
    AccessDenied,
    /// Anything else; not retried.
    Other,
}

impl ItemStoreErrorKind {
    /// Whether the same call may succeed if tried again.
    pub fn is_transient(self) -> bool {
        matches!(self, ItemStoreErrorKind::Throttled | ItemStoreErrorKind::Unavailable)
    }
}

/// A failed ItemReader or ResultWriter call on the object store. The engine retries transient
/// kinds a few times and then, like every other kind, fails the Map Run with
/// `States.ItemReaderFailed` or `States.ResultWriterFailed` and this message as the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ItemStoreError {
    /// What kind of failure.
    pub kind: ItemStoreErrorKind,
    /// The store's message (the Map Run's cause).
    pub message: String,
}

impl ItemStoreError {
    /// Builds an error.
    pub fn new(kind: ItemStoreErrorKind, message: impl Into<String>) -> ItemStoreError {
        ItemStoreError { kind, message: message.into() }
    }
}

/// The S3 operations a Distributed Map needs (ItemReader and ResultWriter).
pub trait ItemStore: Send + Sync {
    /// Lists every object under `prefix`, in key order.
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, ItemStoreError>>;
    /// Reads one object.
    fn get<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ItemStoreError>>;
    /// Writes one object.
    fn put<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ItemStoreError>>;
}

/// An in-memory object store, for tests and simulations.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Reads an object synchronously (for assertions).
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().ok()?.get(&(bucket.to_owned(), key.to_owned())).cloned()
    }

    /// Every key in a bucket.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.objects
            .lock()
            .map(|o| o.keys().filter(|(b, _)| b == bucket).map(|(_, k)| k.clone()).collect())
            .unwrap_or_default()
    }

    /// Writes an object synchronously (for set-up).
    pub fn insert(&self, bucket: &str, key: &str, body: Vec<u8>) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert((bucket.to_owned(), key.to_owned()), body);
        }
    }
}

impl ItemStore for MemoryStore {
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, ItemStoreError>> {
        Box::pin(async move {
            let objects = self
                .objects
                .lock()
                .map_err(|_| ItemStoreError::new(ItemStoreErrorKind::Other, "store poisoned"))?;
            Ok(objects
                .iter()
                .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
                .map(|((_, key), body)| ObjectEntry {
                    key: key.clone(),
                    size: body.len() as u64,
                    etag: format!("\"{:016x}\"", body.len()),
                    last_modified: "2026-01-01T00:00:00Z".into(),
                })
                .collect())
        })
    }

    fn get<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ItemStoreError>> {
        Box::pin(async move {
            self.object(bucket, key).ok_or_else(|| {
                ItemStoreError::new(
                    ItemStoreErrorKind::NotFound,
                    format!("NoSuchKey: s3://{bucket}/{key}"),
                )
            })
        })
    }

    fn put<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ItemStoreError>> {
        Box::pin(async move {
            self.insert(bucket, key, body);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_resolve_to_names() {
        assert_eq!(resolve_name("${TransformFunctionArn}"), "TransformFunctionArn");
        assert_eq!(
            resolve_name("arn:aws:lambda:us-east-1:123456789012:function:transform"),
            "transform"
        );
        assert_eq!(
            resolve_name("arn:aws:lambda:us-east-1:123456789012:function:transform:live"),
            "transform"
        );
        assert_eq!(
            resolve_name("arn:aws:states:us-east-1:123456789012:stateMachine:child"),
            "child"
        );
        assert_eq!(resolve_name("plain"), "plain");
    }

    #[tokio::test]
    async fn concurrency_limit_throttles_like_lambda() {
        let mut functions = Functions::new();
        let gate = Arc::new(tokio::sync::Notify::new());
        let waiter = gate.clone();
        functions.register(
            "slow",
            Arc::new(move |_payload: Value| {
                let waiter = waiter.clone();
                async move {
                    waiter.notified().await;
                    Ok::<_, FunctionError>(json!("done"))
                }
            }),
            Some(1),
        );
        let functions = Arc::new(functions);
        let first = tokio::spawn({
            let functions = functions.clone();
            async move { functions.invoke("${slow}", json!({})).await }
        });
        tokio::task::yield_now().await;
        let second = functions.invoke("slow", json!({})).await;
        assert_eq!(
            second.map_err(|e| e.error_type),
            Err("Lambda.TooManyRequestsException".to_owned())
        );
        gate.notify_one();
        assert_eq!(first.await.ok().and_then(Result::ok), Some(json!("done")));
        assert_eq!(functions.throttles().get("slow"), Some(&1));
        let missing = functions.invoke("nope", json!({})).await;
        assert_eq!(
            missing.map_err(|e| e.error_type),
            Err("Lambda.ResourceNotFoundException".to_owned())
        );
    }
}
