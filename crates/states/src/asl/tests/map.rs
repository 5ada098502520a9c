//! Definitions the loader rejects for rules of `asl/parse/map.rs`: the Map processor and its
//! mode, numbers and `Label`, and the Distributed Map fields (ItemReader, ItemBatcher,
//! ResultWriter).

use super::*;

#[test]
fn map_processor_config() {
    assert_problem(
        &with_map(r#"{"Mode": "PARALLEL"}"#, ""),
        Some("M"),
        "ItemProcessor.ProcessorConfig.Mode",
        "\"INLINE\" or \"DISTRIBUTED\"",
    );
    assert_problem(
        &with_map(r#"{"Mode": "DISTRIBUTED", "ExecutionType": "BATCH"}"#, ""),
        Some("M"),
        "ItemProcessor.ProcessorConfig.ExecutionType",
        "\"STANDARD\" or \"EXPRESS\"",
    );
    assert_problem(
        &with_map(r#"{"Mode": "DISTRIBUTED"}"#, ""),
        Some("M"),
        "ItemProcessor.ProcessorConfig.ExecutionType",
        "is required when Mode is \"DISTRIBUTED\"",
    );
    assert_problem(
        &with_map(r#"{"ExecutionType": "EXPRESS"}"#, ""),
        Some("M"),
        "ItemProcessor.ProcessorConfig.ExecutionType",
        "only allowed when Mode is \"DISTRIBUTED\"",
    );
    assert_problem(
        &with_map(r#"{"Mode": "INLINE", "Other": 1}"#, ""),
        Some("M"),
        "ItemProcessor.ProcessorConfig.Other",
        "unknown field",
    );
    assert_problem(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}}"#,
        Some("M"),
        "ItemProcessor",
        "is required",
    );
    assert_problem(
        &with_map(
            "null",
            r#", "Iterator": {"StartAt": "W", "States": {"W": {"Type": "Succeed"}}}"#,
        ),
        Some("M"),
        "Iterator",
        "cannot be given together with ItemProcessor",
    );
    assert_problem(
        &with_map("null", r#", "Parameters": {}, "ItemSelector": {}"#),
        Some("M"),
        "Parameters",
        "cannot be given together with ItemSelector",
    );
}

#[test]
fn distributed_only_fields_are_rejected_on_inline_maps() {
    for (field, value) in [
        (
            "ItemReader",
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}"#,
        ),
        ("ItemBatcher", r#"{"MaxItemsPerBatch": 2}"#),
        (
            "ResultWriter",
            r#"{"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}"#,
        ),
        ("Label", r#""Files""#),
        ("ToleratedFailurePercentage", "5"),
        ("ToleratedFailureCountPath", r#""$.n""#),
    ] {
        assert_problem(
            &with_map("null", &format!(r#", "{field}": {value}"#)),
            Some("M"),
            field,
            "only allowed in a Distributed Map",
        );
    }
}

#[test]
fn map_numbers_and_label() {
    let map = with_distributed_map;
    assert_problem(
        &map(r#", "ToleratedFailurePercentage": 101"#),
        Some("M"),
        "ToleratedFailurePercentage",
        "from 0.0 to 100.0, found 101",
    );
    assert_problem(
        &map(r#", "ToleratedFailurePercentage": -1"#),
        Some("M"),
        "ToleratedFailurePercentage",
        "from 0.0 to 100.0",
    );
    assert_problem(
        &map(r#", "ToleratedFailureCount": -2"#),
        Some("M"),
        "ToleratedFailureCount",
        "at least 0, found -2",
    );
    assert_problem(
        &map(r#", "ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.n""#),
        Some("M"),
        "ToleratedFailureCountPath",
        "cannot be given together",
    );
    assert_problem(
        &map(r#", "MaxConcurrency": -1"#),
        Some("M"),
        "MaxConcurrency",
        "from 0 to 4294967295",
    );
    assert_problem(
        &map(r#", "MaxConcurrency": 1, "MaxConcurrencyPath": "$.c""#),
        Some("M"),
        "MaxConcurrencyPath",
        "cannot be given together with MaxConcurrency",
    );
    let long = "L".repeat(41);
    assert_problem(
        &map(&format!(r#", "Label": "{long}""#)),
        Some("M"),
        "Label",
        "1 to 40 characters, found 41",
    );
    assert_problem(&map(r#", "Label": "two words""#), Some("M"), "Label", "must not contain ' '");
    for bad in ["a:b", "a$b", "a{b", "a|b", "a`b", "a\\\"b", "a\\tb"] {
        assert_problem(
            &map(&format!(r#", "Label": "{bad}""#)),
            Some("M"),
            "Label",
            "must not contain",
        );
    }
    assert_problem(
        &map(r#", "ItemsPath": "$.items[1:]""#),
        Some("M"),
        "ItemsPath",
        "must be a Reference Path",
    );
    assert_problem(
        &map(
            r#", "ItemsPath": "$.items", "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
               "Parameters": {"Bucket": "b"}}"#,
        ),
        Some("M"),
        "ItemsPath",
        "cannot be combined with ItemReader",
    );
}

#[test]
fn item_batcher_rules() {
    let map = with_distributed_map;
    assert_problem(
        &map(r#", "ItemBatcher": {}"#),
        Some("M"),
        "ItemBatcher",
        "needs MaxItemsPerBatch",
    );
    assert_problem(
        &map(r#", "ItemBatcher": {"BatchInput": {"a": 1}}"#),
        Some("M"),
        "ItemBatcher",
        "needs MaxItemsPerBatch",
    );
    assert_problem(
        &map(r#", "ItemBatcher": {"MaxInputBytesPerBatch": 262145}"#),
        Some("M"),
        "ItemBatcher.MaxInputBytesPerBatch",
        "from 1 to 262144, found 262145",
    );
    assert_problem(
        &map(r#", "ItemBatcher": {"MaxItemsPerBatch": 0}"#),
        Some("M"),
        "ItemBatcher.MaxItemsPerBatch",
        "at least 1",
    );
    assert_problem(
        &map(r#", "ItemBatcher": {"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}"#),
        Some("M"),
        "ItemBatcher.MaxItemsPerBatchPath",
        "cannot be given together",
    );
    assert_problem(
        &map(r#", "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": "x"}"#),
        Some("M"),
        "ItemBatcher.BatchInput",
        "must be an object",
    );
}

#[test]
fn item_reader_rules() {
    let reader = |body: &str| with_distributed_map(&format!(r#", "ItemReader": {body}"#));
    assert_problem(
        &reader(r#"{"Resource": "arn:aws:states:::dynamodb:scan", "Parameters": {}}"#),
        Some("M"),
        "ItemReader.Resource",
        "unsupported ItemReader resource",
    );
    assert_problem(
        &reader(r#"{"Resource": "arn:aws:states:::s3:listObjectsV2"}"#),
        Some("M"),
        "ItemReader.Parameters",
        "is required",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Prefix": "raw/"}}"#,
        ),
        Some("M"),
        "ItemReader.Parameters",
        "needs Bucket",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "StartAfter": "k"}}"#,
        ),
        Some("M"),
        "ItemReader.Parameters.StartAfter",
        "not supported",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}, "ReaderConfig": {"InputType": "JSON"}}"#,
        ),
        Some("M"),
        "ItemReader.Parameters",
        "needs Key",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.InputType",
        "is required with the s3:getObject reader",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                    "ReaderConfig": {"InputType": "PARQUET"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.InputType",
        "PARQUET input is not supported",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                    "ReaderConfig": {"InputType": "JSON", "CSVDelimiter": "PIPE"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.CSVDelimiter",
        "only applies when InputType is \"CSV\"",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.CSVHeaders",
        "is required when CSVHeaderLocation is \"GIVEN\"",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                    "ReaderConfig": {"InputType": "CSV", "CSVDelimiter": "COLON"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.CSVDelimiter",
        "must be \"COMMA\"",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"},
                    "ReaderConfig": {"InputType": "JSON"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.InputType",
        "only applies to the s3:getObject reader",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"},
                    "ReaderConfig": {"Transformation": "LOAD_AND_FLATTEN"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.Transformation",
        "not supported by graphetl's local runner",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                    "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/items"}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.ItemsPointer",
        "not supported",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"},
                    "ReaderConfig": {"MaxItems": 0}}"#,
        ),
        Some("M"),
        "ItemReader.ReaderConfig.MaxItems",
        "from 1 to 100000000",
    );
    assert_problem(
        &reader(
            r#"{"Resource": "arn:aws:states:::s3:listObjectsV2", "Arguments": {"Bucket": "b"}}"#,
        ),
        Some("M"),
        "ItemReader.Arguments",
        "field 'Arguments' is only supported for the 'JSONata' QueryLanguage",
    );
}

#[test]
fn result_writer_rules() {
    let writer = |body: &str| with_distributed_map(&format!(r#", "ResultWriter": {body}"#));
    assert_problem(
        &writer(
            r#"{"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"},
                    "WriterConfig": {"OutputType": "JSONL"}}"#,
        ),
        Some("M"),
        "ResultWriter.WriterConfig",
        "WriterConfig (Transformation, OutputType) is not supported",
    );
    assert_problem(
        &writer(r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}}"#),
        Some("M"),
        "ResultWriter.Resource",
        "supported: arn:aws:states:::s3:putObject",
    );
    assert_problem(
        &writer(r#"{"Resource": "arn:aws:states:::s3:putObject"}"#),
        Some("M"),
        "ResultWriter.Parameters",
        "is required",
    );
    assert_problem(
        &writer(r#"{"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Prefix": "p"}}"#),
        Some("M"),
        "ResultWriter.Parameters",
        "needs Bucket",
    );
}

#[test]
fn express_children_cannot_wait_for_executions() {
    assert_problem(
        &with_map(
            r#"{"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}"#,
            r#", "ItemSelector": {"x": 1}"#,
        )
        .replace(
            r#""Work": {"Type": "Pass", "End": true}"#,
            r#""Work": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                        "Parameters": {"StateMachineArn": "${Child}"}, "End": true}"#,
        ),
        Some("M"),
        "ItemProcessor.ProcessorConfig.ExecutionType",
        "state \"Work\" uses states:startExecution.sync",
    );
}
