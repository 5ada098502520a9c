//! A Distributed Map's ResultWriter: `SUCCEEDED_0.json`, `FAILED_0.json` and `PENDING_0.json`
//! (each only when it has records) and `manifest.json` under `<Prefix>/<map-run-id>/`, in the
//! layout and record shape AWS writes. Store failures (after retries of throttling) are
//! `States.ResultWriterFailed`.

use serde_json::{Value, json};

use super::MapCall;
use super::distributed::{Children, RunIds};
use super::store::retrying;
use crate::asl::ResultWriter;
use crate::engine::{Engine, Execution, Status};
use crate::error::{StatesError, names};
use crate::resolve::ItemStoreError;

impl Engine {
    /// Writes a Map Run's results; returns the manifest's bucket and key.
    pub(super) async fn write_results(
        &self,
        writer: &ResultWriter,
        call: &MapCall<'_>,
        ids: &RunIds,
        children: &Children,
    ) -> Result<(String, String), StatesError> {
        let (store, parameters, bucket) =
            self.s3_call(&writer.parameters, call, names::RESULT_WRITER_FAILED, "ResultWriter")?;
        let prefix = parameters
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let base = if prefix.is_empty() { ids.id.clone() } else { format!("{prefix}/{}", ids.id) };
        let records = |succeeded: bool| -> Vec<Value> {
            children
                .finished
                .iter()
                .filter(|(_, e)| (e.status == Status::Succeeded) == succeeded)
                .map(|(_, e)| self.result_record(e))
                .collect()
        };
        let pending: Vec<Value> = children
            .never_started
            .iter()
            .map(|input| json!({"Input": input.to_string(), "InputDetails": {"Included": true}, "Status": "PENDING"}))
            .collect();
        let mut files = json!({"FAILED": [], "PENDING": [], "SUCCEEDED": []});
        let write_error =
            |e: ItemStoreError| StatesError::new(names::RESULT_WRITER_FAILED, e.message);
        for (kind, records) in
            [("SUCCEEDED", records(true)), ("FAILED", records(false)), ("PENDING", pending)]
        {
            if records.is_empty() {
                continue;
            }
            let key = format!("{base}/{kind}_0.json");
            let body = Value::Array(records).to_string().into_bytes();
            let size = body.len();
            retrying(|| store.put(&bucket, &key, body.clone())).await.map_err(write_error)?;
            if let Some(list) = files.get_mut(kind).and_then(Value::as_array_mut) {
                list.push(json!({"Key": key, "Size": size}));
            }
        }
        let manifest_key = format!("{base}/manifest.json");
        let manifest =
            json!({"DestinationBucket": bucket, "MapRunArn": ids.arn, "ResultFiles": files});
        let body = manifest.to_string().into_bytes();
        retrying(|| store.put(&bucket, &manifest_key, body.clone())).await.map_err(write_error)?;
        Ok((bucket, manifest_key))
    }

    /// One child's record in a `SUCCEEDED` or `FAILED` file.
    fn result_record(&self, e: &Execution) -> Value {
        let mut r = json!({
            "ExecutionArn": e.arn,
            "Name": e.name,
            "StateMachineArn": e.state_machine_arn,
            "Input": e.input.to_string(),
            "InputDetails": {"Included": true},
            "Status": e.status.as_str(),
            "StartDate": self.iso(e.start_millis),
            "StopDate": self.iso(e.stop_millis),
            "RedriveCount": 0,
        });
        if let Value::Object(object) = &mut r {
            match &e.output {
                Some(output) => {
                    object.insert("Output".into(), json!(output.to_string()));
                    object.insert("OutputDetails".into(), json!({"Included": true}));
                    object.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
                    object.insert(
                        "RedriveStatusReason".into(),
                        json!("Execution is SUCCEEDED and cannot be redriven"),
                    );
                }
                None => {
                    object.insert("Error".into(), json!(e.error));
                    object.insert("Cause".into(), json!(e.cause));
                    object.insert("RedriveStatus".into(), json!("REDRIVABLE"));
                }
            }
        }
        r
    }
}
