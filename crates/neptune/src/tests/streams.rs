//! Tests of `streams` against the mock: signed GETs, pages, the checkpoint file, no-records,
//! expiry and throttling.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use graphetl_core::ErrorName;
use serde_json::json;

use super::mock::{Expect, MockNeptune, Reply};
use crate::http::{Auth, ClientConfig, NeptuneClient, StaticCredentials};
use crate::streams::{
    EventId, Op, Position, StreamError, StreamReader, parse_stream_response, read_checkpoint,
    write_checkpoint,
};

const REGION: &str = "eu-west-1";

fn expect() -> Expect {
    Expect {
        access_key: "AKIDSTREAM".into(),
        secret: "stream/secret".into(),
        region: REGION.into(),
        token: Some("session".into()),
    }
}

fn reader(mock: &MockNeptune, limit: u32) -> StreamReader {
    let auth = Auth::Iam {
        region: REGION.into(),
        credentials: Arc::new(StaticCredentials::new(
            "AKIDSTREAM",
            "stream/secret",
            Some("session".into()),
        )),
    };
    let mut config = ClientConfig::new(mock.endpoint(), auth);
    config.connect_timeout = None;
    config.request_timeout = None;
    config.pool_idle_timeout = None;
    config.jitter_seed = Some(7);
    let client = NeptuneClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    StreamReader::new(Arc::new(client), limit)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("graphetl-neptune-streams-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// A page: a vertex label, a vertex property and an edge in commit `commit`.
fn page(commit: u64) -> String {
    json!({
        "lastEventId": {"commitNum": commit, "opNum": 3},
        "lastTrxTimestamp": 1_763_600_000_000_i64,
        "format": "PG_JSON",
        "records": [
            {"commitTimestamp": 1_763_600_000_000_i64, "eventId": {"commitNum": commit, "opNum": 1},
             "data": {"id": "checkout", "type": "vl", "key": "label",
                      "value": {"value": "Service", "dataType": "String"}},
             "op": "ADD"},
            {"commitTimestamp": 1_763_600_000_000_i64, "eventId": {"commitNum": commit, "opNum": 2},
             "data": {"id": "checkout", "type": "vp", "key": "requests_in",
                      "value": {"value": 5, "dataType": "Long"}},
             "op": "REMOVE"},
            {"commitTimestamp": 1_763_600_000_000_i64, "eventId": {"commitNum": commit, "opNum": 3},
             "data": {"id": "checkout->payments", "type": "e", "key": "label",
                      "value": {"value": "CALLS", "dataType": "String"},
                      "from": "checkout", "to": "payments"},
             "op": "ADD", "isLastOp": true}
        ],
        "totalRecords": 3
    })
    .to_string()
}

fn ok(body: String) -> Reply {
    Reply::Body { status: 200, body }
}

#[tokio::test(start_paused = true)]
async fn polls_from_the_horizon_then_after_the_checkpoint() -> Result<(), StreamError> {
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let dir = scratch("poll");
    let checkpoint = dir.join("stream.checkpoint.json");
    let reader = reader(&mock, 500).with_checkpoint(&checkpoint);
    mock.script([ok(page(12)), Reply::error(404, "StreamRecordsNotFoundException")]);
    let first = reader.poll().await?;
    assert_eq!(first.position, Position::TrimHorizon);
    assert_eq!((first.records().len(), first.attempts), (3, 1));
    let edge = &first.records()[2];
    assert_eq!(
        (edge.data.kind.as_str(), edge.data.from.as_deref(), edge.data.to.as_deref()),
        ("e", Some("checkout"), Some("payments"))
    );
    assert_eq!(
        (first.records()[1].op, first.records()[1].data.value.value.clone()),
        (Op::Remove, json!(5))
    );
    assert_eq!(edge.is_last_op, Some(true));
    let at = EventId { commit_num: 12, op_num: 3 };
    assert_eq!(read_checkpoint(&checkpoint)?, Some(at));
    assert_eq!(
        std::fs::read_to_string(&checkpoint).ok().as_deref(),
        Some(r#"{"commitNum":12,"opNum":3}"#)
    );
    let second = reader.poll().await?;
    assert_eq!(second.position, Position::After(at));
    assert!(second.response.is_none() && second.records().is_empty() && second.warnings.is_empty());
    assert_eq!(read_checkpoint(&checkpoint)?, Some(at), "no records: the checkpoint stays");
    let targets: Vec<String> = mock.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "GET /propertygraph/stream?limit=500&iteratorType=TRIM_HORIZON",
            "GET /propertygraph/stream?limit=500&iteratorType=AFTER_SEQUENCE_NUMBER&commitNum=12&opNum=3",
        ]
    );
    mock.assert_all_authenticated();
    let leftovers: Vec<_> =
        std::fs::read_dir(&dir).map_err(|e| StreamError::BadResponse(e.to_string()))?.collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_expired_checkpoint_restarts_from_the_horizon_with_a_warning() -> Result<(), StreamError>
{
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let dir = scratch("expired");
    let checkpoint = dir.join("cp.json");
    write_checkpoint(&checkpoint, &EventId { commit_num: 1, op_num: 1 })?;
    let reader = reader(&mock, 10).with_checkpoint(&checkpoint);
    mock.script([Reply::error(400, "ExpiredStreamException"), ok(page(40))]);
    let poll = reader.poll().await?;
    assert_eq!(poll.position, Position::TrimHorizon);
    assert_eq!(poll.warnings.len(), 1);
    assert!(poll.warnings[0].contains("AFTER 1/1 has expired"), "{:?}", poll.warnings);
    assert_eq!((poll.records().len(), poll.attempts), (3, 2));
    assert_eq!(read_checkpoint(&checkpoint)?, Some(EventId { commit_num: 40, op_num: 3 }));
    mock.assert_all_authenticated();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn throttling_backs_off_and_permanent_errors_stop() -> Result<(), StreamError> {
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let reader = reader(&mock, 0);
    mock.script([
        Reply::error(500, "ThrottlingException"),
        Reply::error(500, "ThrottlingException"),
        ok(page(3)),
    ]);
    let poll = reader.read(Position::Latest).await?;
    assert_eq!((poll.records().len(), poll.attempts), (3, 3));
    mock.script([Reply::error(400, "InvalidParameterException")]);
    let error = reader.read(Position::At(EventId { commit_num: 9, op_num: 1 })).await.err();
    let error = error.ok_or_else(|| StreamError::BadResponse("must fail".into()))?;
    assert_eq!(error.error_name(), ErrorName::Internal);
    assert!(error.to_string().contains("InvalidParameterException"), "{error}");
    mock.script([Reply::error(400, "ExpiredStreamException")]);
    let expired = reader.read(Position::TrimHorizon).await.err();
    assert!(expired.is_some(), "an expired horizon is not reset again");
    mock.script([Reply::Raw { status: 200, body: "<html>proxy</html>" }]);
    let garbage = reader.read(Position::Latest).await.err();
    assert!(matches!(garbage, Some(StreamError::BadResponse(_))), "{garbage:?}");
    let targets: Vec<String> = mock.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets[0], "GET /propertygraph/stream?limit=1&iteratorType=LATEST");
    assert_eq!(
        targets[3],
        "GET /propertygraph/stream?limit=1&iteratorType=AT_SEQUENCE_NUMBER&commitNum=9&opNum=1"
    );
    mock.assert_all_authenticated();
    Ok(())
}

#[test]
fn checkpoints_and_responses_parse_strictly() -> Result<(), StreamError> {
    let dir = scratch("files");
    let path = dir.join("cp.json");
    assert_eq!(read_checkpoint(&path)?, None);
    std::fs::write(&path, "{\"commitNum\": 5}")
        .map_err(|e| StreamError::BadResponse(e.to_string()))?;
    assert!(matches!(read_checkpoint(&path), Err(StreamError::Checkpoint { .. })));
    write_checkpoint(&path, &EventId { commit_num: 5, op_num: 7 })?;
    assert_eq!(read_checkpoint(&path)?, Some(EventId { commit_num: 5, op_num: 7 }));
    assert_eq!(
        Position::After(EventId { commit_num: 5, op_num: 7 }).query(1_000_000),
        "limit=100000&iteratorType=AFTER_SEQUENCE_NUMBER&commitNum=5&opNum=7"
    );
    let parsed = parse_stream_response(page(2).as_bytes()).map_err(StreamError::BadResponse)?;
    assert_eq!((parsed.format.as_str(), parsed.total_records), ("PG_JSON", 3));
    assert!(parse_stream_response(b"{\"records\": []}").is_err());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
