//! Runtime errors as Step Functions names them: an error name (`States.Runtime`, a Lambda's
//! `errorType`, ...) plus a human-readable cause, which is what `Retry`/`Catch` match and what
//! the history's `…FailedEventDetails` carry.
//!
//! This module owns the error value and the well-known `States.*` names; it does not decide
//! which name a failure gets (the modules that detect failures do) and it never formats the
//! "An error occurred while executing the state ..." prefix (the interpreter does).

/// A runtime error as Step Functions names it (e.g. States.ParameterPathFailure) with a cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StatesError {
    /// The error name that `ErrorEquals` matches, e.g. `States.Runtime`.
    pub error: String,
    /// The human-readable cause.
    pub cause: String,
}

impl StatesError {
    /// Builds an error from a name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: cause.into() }
    }

    /// Returns the same cause under another error name (callers re-label generic failures).
    pub fn relabeled(self, error: impl Into<String>) -> Self {
        Self { error: error.into(), cause: self.cause }
    }
}

/// Well-known error names (Amazon States Language spec, Appendix A, and the Step Functions
/// developer guide, concepts-error-handling.html).
pub mod names {
    /// Wildcard that matches any error name except `States.Runtime` and `States.DataLimitExceeded`.
    pub const ALL: &str = "States.ALL";
    /// A Task failed; matches any error except `States.Timeout`.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A Task ran longer than `TimeoutSeconds`, or the execution past its maximum duration.
    pub const TIMEOUT: &str = "States.Timeout";
    /// An unprocessable runtime error (bad path, bad `…Path` value); never retried or caught.
    pub const RUNTIME: &str = "States.Runtime";
    /// A path in a payload template (`Parameters`, ...) could not be applied.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// `ResultPath` could not be applied to the state's input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// An intrinsic function failed during evaluation.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A Choice state matched no rule and has no `Default`.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A branch of a Parallel state failed.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// A Map state could not read all items from its `ItemReader`.
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    /// A Map state could not write all results through its `ResultWriter`.
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    /// A Map Run's failures passed its tolerated failure threshold.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// A payload exceeded 256 KiB; terminal and not catchable.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// A Task missed its heartbeat.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// A Task's role lacked a permission.
    pub const PERMISSIONS: &str = "States.Permissions";
    /// A JSONata expression failed or yielded undefined.
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_name_and_cause() {
        let err = StatesError::new(names::RUNTIME, "boom");
        assert_eq!(err.to_string(), "States.Runtime: boom");
    }

    #[test]
    fn relabel_keeps_cause() {
        let err = StatesError::new(names::RUNTIME, "boom").relabeled(names::PARAMETER_PATH_FAILURE);
        assert_eq!(err, StatesError::new("States.ParameterPathFailure", "boom"));
    }

    #[test]
    fn names_are_the_aws_spellings() {
        let all = [
            (names::ALL, "States.ALL"),
            (names::TASK_FAILED, "States.TaskFailed"),
            (names::TIMEOUT, "States.Timeout"),
            (names::RUNTIME, "States.Runtime"),
            (names::PARAMETER_PATH_FAILURE, "States.ParameterPathFailure"),
            (names::RESULT_PATH_MATCH_FAILURE, "States.ResultPathMatchFailure"),
            (names::INTRINSIC_FAILURE, "States.IntrinsicFailure"),
            (names::NO_CHOICE_MATCHED, "States.NoChoiceMatched"),
            (names::BRANCH_FAILED, "States.BranchFailed"),
            (names::ITEM_READER_FAILED, "States.ItemReaderFailed"),
            (names::RESULT_WRITER_FAILED, "States.ResultWriterFailed"),
            (names::EXCEED_TOLERATED_FAILURE_THRESHOLD, "States.ExceedToleratedFailureThreshold"),
            (names::DATA_LIMIT_EXCEEDED, "States.DataLimitExceeded"),
            (names::HEARTBEAT_TIMEOUT, "States.HeartbeatTimeout"),
            (names::PERMISSIONS, "States.Permissions"),
        ];
        for (constant, spelled) in all {
            assert_eq!(constant, spelled);
        }
    }
}
