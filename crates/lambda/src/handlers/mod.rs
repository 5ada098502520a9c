//! Step handlers: one async function per Lambda, written against the storage port.

pub mod transform;

use graphetl_core::ErrorName;
use graphetl_core::errors::StepError;
use graphetl_storage::{StoreError, StoreErrorKind};

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
