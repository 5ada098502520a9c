//! Execution history: events with AWS's type names, ids, `previousEventId`, timestamps and
//! details, exported in the `GetExecutionHistory` JSON shape, and the 25,000-event quota.
//!
//! Event names and detail field names follow the `HistoryEvent` type of the Step Functions API.

use serde_json::{Map, Value, json};

/// The hard quota on one Standard execution's history.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// The failure cause AWS reports when an execution reaches the quota.
pub const QUOTA_CAUSE: &str = "The execution reached the maximum number of history events (25000).";

/// One event of an execution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1-based id within the execution.
    pub id: u64,
    /// Id of the event this one follows (0 for the first).
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_millis: i64,
    /// AWS event type, e.g. `TaskStateEntered`.
    pub kind: &'static str,
    /// The `…EventDetails` object, if the type has one.
    pub details: Option<Value>,
}

/// Every history event type of the Step Functions API (`HistoryEventType`), so that a history
/// read back from JSON keeps AWS's names.
pub const EVENT_TYPES: &[&str] = &[
    "ActivityFailed",
    "ActivityScheduled",
    "ActivityScheduleFailed",
    "ActivityStarted",
    "ActivitySucceeded",
    "ActivityTimedOut",
    "ChoiceStateEntered",
    "ChoiceStateExited",
    "EvaluationFailed",
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionRedriven",
    "ExecutionStarted",
    "ExecutionSucceeded",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduled",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStarted",
    "LambdaFunctionStartFailed",
    "LambdaFunctionSucceeded",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapIterationStarted",
    "MapIterationSucceeded",
    "MapRunAborted",
    "MapRunFailed",
    "MapRunRedriven",
    "MapRunStarted",
    "MapRunSucceeded",
    "MapStateAborted",
    "MapStateEntered",
    "MapStateExited",
    "MapStateFailed",
    "MapStateStarted",
    "MapStateSucceeded",
    "ParallelStateAborted",
    "ParallelStateEntered",
    "ParallelStateExited",
    "ParallelStateFailed",
    "ParallelStateStarted",
    "ParallelStateSucceeded",
    "PassStateEntered",
    "PassStateExited",
    "SucceedStateEntered",
    "SucceedStateExited",
    "TaskFailed",
    "TaskScheduled",
    "TaskStarted",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskStateEntered",
    "TaskStateExited",
    "TaskSubmitFailed",
    "TaskSubmitted",
    "TaskSucceeded",
    "TaskTimedOut",
    "WaitStateAborted",
    "WaitStateEntered",
    "WaitStateExited",
];

/// A history read back from JSON that is not one this module wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history event {index}: {message}")]
pub struct BadHistory {
    /// The event's position (0-based).
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Which details field carries an event type's details.
fn details_key(kind: &str) -> Option<String> {
    let base = match kind {
        k if k.ends_with("StateEntered") => "stateEnteredEventDetails".to_owned(),
        k if k.ends_with("StateExited") => "stateExitedEventDetails".to_owned(),
        "MapStateStarted" => "mapStateStartedEventDetails".to_owned(),
        "MapStateSucceeded"
        | "MapStateFailed"
        | "MapStateAborted"
        | "ParallelStateStarted"
        | "ParallelStateSucceeded"
        | "ParallelStateFailed"
        | "ParallelStateAborted" => return None,
        k => {
            let mut chars = k.chars();
            let first = chars.next()?.to_ascii_lowercase();
            format!("{first}{}EventDetails", chars.as_str())
        }
    };
    Some(base)
}

impl Event {
    /// The event as `GetExecutionHistory` returns it.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("timestamp".into(), json!(format_millis(self.timestamp_millis)));
        object.insert("type".into(), json!(self.kind));
        object.insert("id".into(), json!(self.id));
        object.insert("previousEventId".into(), json!(self.previous_event_id));
        if let (Some(details), Some(key)) = (&self.details, details_key(self.kind)) {
            object.insert(key, details.clone());
        }
        Value::Object(object)
    }
}

fn format_millis(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Appending to a history that has reached the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", QUOTA_CAUSE)]
pub struct QuotaReached;

/// The history of one execution.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Vec<Event>,
    limit: usize,
}

impl History {
    /// An empty history with AWS's quota.
    pub fn new() -> History {
        History { events: Vec::new(), limit: MAX_HISTORY_EVENTS }
    }

    /// An empty history with another quota (for tests of the quota path).
    pub fn with_limit(limit: usize) -> History {
        History { events: Vec::new(), limit }
    }

    /// Appends an event after the last one; fails once the quota is reached.
    pub fn push(
        &mut self,
        kind: &'static str,
        timestamp_millis: i64,
        details: Option<Value>,
    ) -> Result<u64, QuotaReached> {
        let previous = self.events.last().map_or(0, |e| e.id);
        self.push_after(kind, timestamp_millis, details, previous)
    }

    /// Appends an event that follows `previous_event_id` (concurrent branches interleave).
    pub fn push_after(
        &mut self,
        kind: &'static str,
        timestamp_millis: i64,
        details: Option<Value>,
        previous_event_id: u64,
    ) -> Result<u64, QuotaReached> {
        if self.events.len() >= self.limit {
            return Err(QuotaReached);
        }
        let id = self.events.len() as u64 + 1;
        self.events.push(Event { id, previous_event_id, timestamp_millis, kind, details });
        Ok(id)
    }

    /// Appends the terminal failure event even at the quota (AWS records why it stopped).
    pub fn push_final(
        &mut self,
        kind: &'static str,
        timestamp_millis: i64,
        details: Option<Value>,
    ) -> u64 {
        let previous = self.events.last().map_or(0, |e| e.id);
        let id = self.events.len() as u64 + 1;
        self.events.push(Event {
            id,
            previous_event_id: previous,
            timestamp_millis,
            kind,
            details,
        });
        id
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event was recorded.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The event types in order (for tests and budgets).
    pub fn kinds(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind).collect()
    }

    /// The history in the `GetExecutionHistory` response shape.
    pub fn to_json(&self) -> Value {
        json!({ "events": self.events.iter().map(Event::to_json).collect::<Vec<_>>() })
    }

    /// The quota this history counts against.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Reads back a history [`History::to_json`] wrote, under a quota.
    pub fn from_json(value: &Value, limit: usize) -> Result<History, BadHistory> {
        let bad = |index: usize, message: &str| BadHistory { index, message: message.to_owned() };
        let events = value["events"].as_array().ok_or_else(|| bad(0, "no events array"))?;
        let mut history = History::with_limit(limit);
        for (index, event) in events.iter().enumerate() {
            let type_name = event["type"].as_str().ok_or_else(|| bad(index, "no type"))?;
            let kind = EVENT_TYPES
                .iter()
                .find(|k| **k == type_name)
                .copied()
                .ok_or_else(|| bad(index, &format!("unknown event type {type_name}")))?;
            let timestamp_millis = event["timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| bad(index, "no RFC 3339 timestamp"))?;
            let previous_event_id = event["previousEventId"].as_u64().unwrap_or(0);
            let details = details_key(kind).and_then(|key| event.get(&key).cloned());
            history.events.push(Event {
                id: index as u64 + 1,
                previous_event_id,
                timestamp_millis,
                kind,
                details,
            });
        }
        Ok(history)
    }
}

/// `{"input": "<json text>", "inputDetails": {"truncated": false}}`-style payload details.
pub fn payload_details(field: &str, value: &Value) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert(field.to_owned(), Value::String(value.to_string()));
    details.insert(format!("{field}Details"), json!({ "truncated": false }));
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_export_in_the_get_execution_history_shape() {
        let mut history = History::new();
        let started = json!({"input": "{}", "inputDetails": {"truncated": false}, "roleArn": "arn:aws:iam::123456789012:role/local"});
        assert_eq!(history.push("ExecutionStarted", 0, Some(started)), Ok(1));
        let entered = json!({"name": "Hello", "input": "{}", "inputDetails": {"truncated": false}});
        assert_eq!(history.push("PassStateEntered", 1, Some(entered)), Ok(2));
        assert_eq!(history.push("MapStateSucceeded", 2, None), Ok(3));
        let exported = history.to_json();
        assert_eq!(exported["events"][0]["type"], "ExecutionStarted");
        assert_eq!(exported["events"][0]["timestamp"], "1970-01-01T00:00:00.000Z");
        assert!(exported["events"][0]["executionStartedEventDetails"]["roleArn"].is_string());
        assert_eq!(exported["events"][1]["previousEventId"], 1);
        assert_eq!(exported["events"][1]["stateEnteredEventDetails"]["name"], "Hello");
        assert_eq!(exported["events"][2].as_object().map(|o| o.len()), Some(4));
    }

    #[test]
    fn details_keys_follow_aws_names() {
        for (kind, key) in [
            ("TaskScheduled", "taskScheduledEventDetails"),
            ("LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails"),
            ("MapIterationStarted", "mapIterationStartedEventDetails"),
            ("MapRunStarted", "mapRunStartedEventDetails"),
            ("ExecutionFailed", "executionFailedEventDetails"),
            ("WaitStateExited", "stateExitedEventDetails"),
            ("FailStateEntered", "stateEnteredEventDetails"),
        ] {
            assert_eq!(details_key(kind).as_deref(), Some(key));
        }
        assert_eq!(details_key("ParallelStateSucceeded"), None);
    }

    #[test]
    fn a_history_reads_back_from_its_json() {
        let mut history = History::with_limit(10);
        let started = json!({"input": "{}", "inputDetails": {"truncated": false}});
        assert!(history.push("ExecutionStarted", 1_700_000_000_123, Some(started)).is_ok());
        assert!(history.push_after("MapStateSucceeded", 1_700_000_000_200, None, 1).is_ok());
        assert!(
            history
                .push("ExecutionRedriven", 1_700_000_001_000, Some(json!({"redriveCount": 1})))
                .is_ok()
        );
        let back = History::from_json(&history.to_json(), 10);
        assert_eq!(back.as_ref().map(|h| h.events().to_vec()), Ok(history.events().to_vec()));
        let unknown =
            json!({"events": [{"type": "NotAnEvent", "timestamp": "1970-01-01T00:00:00.000Z"}]});
        assert_eq!(History::from_json(&unknown, 10).map(|h| h.len()).map_err(|e| e.index), Err(0));
    }

    #[test]
    fn the_quota_stops_appends_but_records_the_final_event() {
        let mut history = History::with_limit(3);
        for _ in 0..3 {
            assert!(history.push("PassStateEntered", 0, None).is_ok());
        }
        assert_eq!(history.push("PassStateExited", 0, None), Err(QuotaReached));
        assert_eq!(history.push_final("ExecutionFailed", 0, None), 4);
        assert_eq!(history.len(), 4);
        assert_eq!(QuotaReached.to_string(), QUOTA_CAUSE);
    }
}
