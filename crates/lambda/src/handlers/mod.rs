//! Step handlers: one async function per Lambda, written against the storage port.

pub mod aggregate;
pub mod extract;
pub mod load;
pub mod transform;

use graphetl_core::errors::StepError;
use graphetl_core::{DatasetSpec, ErrorName, layout};
use graphetl_storage::{ObjectStore, StoreError, StoreErrorKind};

/// Maps a storage failure to the stable name the state machine retries or catches on.
pub fn store_error(error: &StoreError) -> StepError {
    let name = match error.kind() {
        StoreErrorKind::NotFound => ErrorName::NotFound,
        StoreErrorKind::Throttled => ErrorName::StorageThrottled,
        StoreErrorKind::Unavailable => ErrorName::StorageUnavailable,
        StoreErrorKind::AccessDenied => ErrorName::StorageAccessDenied,
        _ => ErrorName::Internal,
    };
    StepError::new(name, error.to_string())
}

/// Reads and validates the dataset's spec from `datasets/<dataset>.toml` in `bucket`: a missing
/// or invalid spec, or one declaring another dataset, is `BadSpec`; storage failures keep their
/// names.
pub async fn load_spec<S: ObjectStore>(
    store: &S,
    bucket: &str,
    dataset: &str,
) -> Result<DatasetSpec, StepError> {
    let key = layout::spec_key(dataset);
    let bytes = store.get_bytes(bucket, &key).await.map_err(|e| {
        let mut error = store_error(&e);
        if error.name == ErrorName::NotFound {
            error = StepError::new(
                ErrorName::BadSpec,
                format!("no dataset spec at s3://{bucket}/{key}"),
            );
        }
        error
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        StepError::new(ErrorName::BadSpec, format!("s3://{bucket}/{key} is not UTF-8"))
    })?;
    let spec = DatasetSpec::from_toml_str(&text, &format!("s3://{bucket}/{key}"))
        .map_err(|e| StepError::new(ErrorName::BadSpec, e.to_string()))?;
    if spec.name != dataset {
        return Err(StepError::new(
            ErrorName::BadSpec,
            format!(
                "s3://{bucket}/{key} declares dataset \"{}\", expected \"{dataset}\"",
                spec.name
            ),
        ));
    }
    Ok(spec)
}
