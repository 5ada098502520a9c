//! The storage port as the interpreter's `ItemStore`: a local run's Distributed Map reads its
//! items and writes its ResultWriter files through the same S3 code path as everything else.
//!
//! It lives in the CLI (the only user of the interpreter besides the tests), so no Lambda links
//! graphetl-states; the integration tests compile this same file (`#[path]` in tests/it).

use std::time::UNIX_EPOCH;

use graphetl_states::resolve::{
    BoxFuture, ItemStore, ItemStoreError, ItemStoreErrorKind, ObjectEntry,
};
use graphetl_storage::{ObjectStore, StoreError, StoreErrorKind};

/// An [`ObjectStore`] seen as the interpreter's [`ItemStore`].
pub(crate) struct StoreItems<S>(pub(crate) S);

/// A storage failure as the interpreter sees it: the kind decides whether the Distributed Map
/// tries again (throttled, unavailable) or fails at once; the message is the Map Run's cause.
fn item_store_error(error: StoreError) -> ItemStoreError {
    let kind = match error.kind() {
        StoreErrorKind::Throttled => ItemStoreErrorKind::Throttled,
        StoreErrorKind::Unavailable => ItemStoreErrorKind::Unavailable,
        StoreErrorKind::NotFound => ItemStoreErrorKind::NotFound,
        StoreErrorKind::AccessDenied => ItemStoreErrorKind::AccessDenied,
        _ => ItemStoreErrorKind::Other,
    };
    ItemStoreError::new(kind, error.to_string())
}

fn iso(time: Option<std::time::SystemTime>) -> String {
    let millis = time
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0);
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

impl<S: ObjectStore> ItemStore for StoreItems<S> {
    fn list<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, ItemStoreError>> {
        Box::pin(async move {
            let objects = self.0.list(bucket, prefix).await.map_err(item_store_error)?;
            Ok(objects
                .into_iter()
                .map(|o| ObjectEntry {
                    etag: o.etag.unwrap_or_else(|| "\"\"".into()),
                    last_modified: iso(o.last_modified),
                    key: o.key,
                    size: o.size,
                })
                .collect())
        })
    }

    fn get<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ItemStoreError>> {
        Box::pin(async move { self.0.get_bytes(bucket, key).await.map_err(item_store_error) })
    }

    fn put<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), ItemStoreError>> {
        Box::pin(async move {
            self.0
                .put_bytes(bucket, key, body, Some("application/json"))
                .await
                .map(|_| ())
                .map_err(item_store_error)
        })
    }
}
