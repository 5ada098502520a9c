//! Unit tests of the ASL loader: every state type into the model, the reference's Distributed Map
//! example, placeholders, and one failing definition per validation rule, each checked for the
//! state and field its error names.

use super::*;

/// Loads a definition that must be valid.
fn load(text: &str) -> Result<StateMachine, AslError> {
    StateMachine::from_json(text, "test.asl.json")
}

/// The rendered problems of a definition (empty if it is valid).
fn problems(text: &str) -> Vec<String> {
    match StateMachine::from_json(text, "test.asl.json") {
        Ok(_) => Vec::new(),
        Err(err) => err.problems.iter().map(Problem::to_string).collect(),
    }
}

/// Asserts that loading `text` reports a problem on `state` (or the top level) and `field` whose
/// message contains `fragment`.
#[track_caller]
fn assert_problem(text: &str, state: Option<&str>, field: &str, fragment: &str) {
    let prefix = match state {
        Some(state) => format!("state \"{state}\": field {field}: "),
        None => format!("field {field}: "),
    };
    let found = problems(text);
    assert!(
        found.iter().any(|problem| problem.starts_with(&prefix) && problem.contains(fragment)),
        "expected a problem starting with {prefix:?} containing {fragment:?}, found {found:#?}"
    );
}

/// A machine that starts at state `S` (given as JSON) and may go on to the Succeed state `Done`.
fn with_state(state: &str) -> String {
    format!(r#"{{"StartAt": "S", "States": {{"S": {state}, "Done": {{"Type": "Succeed"}}}}}}"#)
}

/// A machine whose only state `S` is a Task with `fields` added to a valid lambda:invoke task.
fn with_task(fields: &str) -> String {
    with_state(&format!(
        r#"{{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {{"FunctionName": "${{Fn}}", "Payload.$": "$"}}, "Next": "Done" {fields}}}"#
    ))
}

/// A machine whose only state `M` is a Map with `fields`, running `mode` (a ProcessorConfig
/// object or `null` for none).
fn with_map(mode: &str, fields: &str) -> String {
    let config =
        if mode == "null" { String::new() } else { format!(r#""ProcessorConfig": {mode},"#) };
    format!(
        r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "End": true,
            "ItemProcessor": {{{config} "StartAt": "Work", "States": {{"Work": {{"Type": "Pass", "End": true}}}}}}
            {fields}}}}}}}"#
    )
}

/// A Distributed (STANDARD) Map `M` with `fields`.
fn with_distributed_map(fields: &str) -> String {
    with_map(r#"{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}"#, fields)
}

/// The state named `name`, which must exist.
fn state<'m>(machine: &'m StateMachine, name: &str) -> &'m State {
    match machine.state(name) {
        Some(state) => state,
        None => panic!("no state {name:?}"),
    }
}

/// The path text of a path field.
fn path_text(field: &PathField) -> Option<&str> {
    match field {
        PathField::Path(path) => Some(path.as_str()),
        PathField::Default | PathField::Null => None,
    }
}

/// The reference's §2.1 Distributed Map, with the §3.4 Lambda retrier, inside a machine.
const DISTRIBUTED_EXAMPLE: &str = r#"{
  "Comment": "extract, transform every file, aggregate",
  "StartAt": "TransformFiles",
  "TimeoutSeconds": 86400,
  "States": {
    "TransformFiles": {
      "Type": "Map",
      "Label": "TransformFiles",
      "ItemReader": {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": { "Bucket": "${RawBucket}", "Prefix.$": "$.rawPrefix" }
      },
      "ItemSelector": { "key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size", "runId.$": "$.runId" },
      "ItemBatcher": { "MaxItemsPerBatch": 20, "BatchInput": { "stage": "transform" } },
      "MaxConcurrency": 50,
      "ToleratedFailurePercentage": 5,
      "ItemProcessor": {
        "ProcessorConfig": { "Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" },
        "StartAt": "TransformBatch",
        "States": { "TransformBatch": {
          "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": { "FunctionName": "${TransformFunctionArn}", "Payload.$": "$" },
          "OutputPath": "$.Payload",
          "Retry": [
            { "ErrorEquals": ["Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException",
                              "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                              "Lambda.TooManyRequestsException"],
              "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "MaxDelaySeconds": 30,
              "JitterStrategy": "FULL" },
            { "ErrorEquals": ["GraphEtl.StorageThrottled"], "IntervalSeconds": 5, "MaxAttempts": 4 }
          ],
          "End": true } }
      },
      "ResultWriter": {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": { "Bucket": "${ResultsBucket}", "Prefix": "transform-results" }
      },
      "ResultPath": "$.transform",
      "Next": "Aggregate"
    },
    "Aggregate": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "${AggregateFunctionArn}", "Payload.$": "$" },
      "ResultSelector": { "result.$": "$.Payload" },
      "ResultPath": "$.aggregate",
      "End": true
    }
  }
}"#;

mod valid {
    use super::*;

    #[test]
    fn reference_distributed_map_example_loads() -> Result<(), AslError> {
        let machine = load(DISTRIBUTED_EXAMPLE)?;
        assert_eq!(machine.start_at, "TransformFiles");
        assert_eq!(machine.timeout_seconds, Some(86400));
        assert_eq!(machine.comment.as_deref(), Some("extract, transform every file, aggregate"));
        let names: Vec<&str> = machine.states.iter().map(|state| state.name.as_str()).collect();
        assert_eq!(names, ["TransformFiles", "Aggregate"]);

        let transform = state(&machine, "TransformFiles");
        assert_eq!(transform.transition, Transition::Next("Aggregate".to_owned()));
        assert_eq!(path_text(&transform.io.result_path), Some("$.transform"));
        let StateKind::Map(map) = &transform.kind else { panic!("not a Map: {transform:?}") };
        assert_eq!(map.mode, MapMode::Distributed { execution_type: ExecutionType::Standard });
        assert_eq!(map.label.as_deref(), Some("TransformFiles"));
        assert!(matches!(map.max_concurrency, Some(Dynamic::Fixed(50))));
        assert!(matches!(map.tolerated_failure_percentage, Some(Dynamic::Fixed(p)) if p == 5.0));
        assert!(map.tolerated_failure_count.is_none());
        assert!(map.items_path.is_none());
        assert!(map.item_selector.is_some());
        let Some(reader) = &map.item_reader else { panic!("no ItemReader") };
        assert_eq!(reader.source, ReaderSource::ListObjectsV2);
        assert!(reader.max_items.is_none());
        let Some(batcher) = &map.item_batcher else { panic!("no ItemBatcher") };
        assert!(matches!(batcher.max_items_per_batch, Some(Dynamic::Fixed(20))));
        assert!(batcher.max_input_bytes_per_batch.is_none());
        assert!(batcher.batch_input.is_some());
        assert!(map.result_writer.is_some());

        let batch = state(&map.processor, "TransformBatch");
        assert_eq!(batch.transition, Transition::End);
        assert_eq!(path_text(&batch.io.output_path), Some("$.Payload"));
        let StateKind::Task(task) = &batch.kind else { panic!("not a Task: {batch:?}") };
        assert_eq!(task.resource, Resource::LambdaInvoke);
        assert_eq!(task.resource_arn, "arn:aws:states:::lambda:invoke");
        assert_eq!(task.retry.len(), 2);
        let first = &task.retry[0];
        assert_eq!(first.error_equals.len(), 5);
        assert_eq!((first.interval_seconds, first.max_attempts, first.backoff_rate), (2, 6, 2.0));
        assert_eq!((first.max_delay_seconds, first.jitter), (Some(30), Jitter::Full));
        let second = &task.retry[1];
        assert_eq!(
            (second.interval_seconds, second.max_attempts, second.backoff_rate),
            (5, 4, 2.0)
        );
        assert_eq!((second.max_delay_seconds, second.jitter), (None, Jitter::None));

        let aggregate = state(&machine, "Aggregate");
        assert!(aggregate.io.parameters.is_some());
        assert!(aggregate.io.result_selector.is_some());
        assert_eq!(aggregate.kind.type_name(), "Task");
        Ok(())
    }

    #[test]
    fn placeholders_finds_every_name() {
        let found = placeholders(DISTRIBUTED_EXAMPLE);
        let expected =
            ["AggregateFunctionArn", "RawBucket", "ResultsBucket", "TransformFunctionArn"];
        assert_eq!(found.iter().map(String::as_str).collect::<Vec<_>>(), expected);

        let odd = placeholders(
            "${A}${A} ${b.c} ${AWS::Region} ${ not } ${} ${${Inner}} $ {X} ${unterminated",
        );
        assert_eq!(
            odd.iter().map(String::as_str).collect::<Vec<_>>(),
            ["A", "AWS::Region", "Inner", "b.c"]
        );
        assert!(placeholders("no placeholders here, just $.paths and {braces}").is_empty());
    }

    #[test]
    fn states_keep_file_order() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Zeta", "States": {
                "Zeta": {"Type": "Pass", "Next": "Alpha"},
                "Alpha": {"Type": "Pass", "Next": "Mid"},
                "Mid": {"Type": "Succeed"}}}"#,
        )?;
        let names: Vec<&str> = machine.states.iter().map(|state| state.name.as_str()).collect();
        assert_eq!(names, ["Zeta", "Alpha", "Mid"]);
        assert_eq!(machine.start().map(|state| state.name.as_str()), Some("Zeta"));
        assert!(machine.state("Nope").is_none());
        Ok(())
    }

    #[test]
    fn from_value_loads_the_same_definition() -> Result<(), AslError> {
        let value: Value = match serde_json::from_str(DISTRIBUTED_EXAMPLE) {
            Ok(value) => value,
            Err(err) => panic!("{err}"),
        };
        let machine = StateMachine::from_value(&value, "value")?;
        assert_eq!(machine.states.len(), 2);
        assert!(machine.state("TransformFiles").is_some());
        Ok(())
    }

    #[test]
    fn pass_state_fields() -> Result<(), AslError> {
        let machine = load(&with_state(
            r#"{"Type": "Pass", "Comment": "seed", "QueryLanguage": "JSONPath", "InputPath": null,
                "Parameters": {"a.$": "$.x"}, "Result": {"x-datum": 0.5, "list": [1, "two"]},
                "ResultPath": "$.coords", "OutputPath": "$.coords", "Next": "Done"}"#,
        ))?;
        let pass = state(&machine, "S");
        assert_eq!(pass.comment.as_deref(), Some("seed"));
        assert!(matches!(pass.io.input_path, PathField::Null));
        assert_eq!(path_text(&pass.io.result_path), Some("$.coords"));
        assert_eq!(path_text(&pass.io.output_path), Some("$.coords"));
        assert!(pass.io.parameters.is_some());
        assert!(pass.io.result_selector.is_none());
        let StateKind::Pass { result } = &pass.kind else { panic!("not a Pass: {pass:?}") };
        assert_eq!(result.as_ref(), Some(&serde_json::json!({"x-datum": 0.5, "list": [1, "two"]})));
        assert_eq!(pass.successors(), ["Done"]);
        assert_eq!(state(&machine, "Done").transition, Transition::Terminal);
        Ok(())
    }

    #[test]
    fn task_state_fields() -> Result<(), AslError> {
        let machine = load(&with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Fn}", "Payload.$": "$", "InvocationType": "RequestResponse"},
                "ResultSelector": {"body.$": "$.Payload"}, "ResultPath": "$.out",
                "TimeoutSeconds": 300, "HeartbeatSecondsPath": "$.heartbeat",
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                "Catch": [{"ErrorEquals": ["GraphEtl.BadInput"], "ResultPath": "$.error", "Next": "Done"},
                          {"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "Done"}],
                "Next": "Done"}"#,
        ))?;
        let task_state = state(&machine, "S");
        let StateKind::Task(task) = &task_state.kind else { panic!("not a Task: {task_state:?}") };
        assert_eq!(task.resource, Resource::LambdaInvoke);
        assert!(matches!(task.timeout, Some(Dynamic::Fixed(300))));
        assert!(
            matches!(&task.heartbeat, Some(Dynamic::Path(path)) if path.as_str() == "$.heartbeat")
        );
        let retrier = &task.retry[0];
        assert_eq!(retrier.error_equals, ["States.ALL"]);
        assert_eq!(
            (retrier.interval_seconds, retrier.max_attempts, retrier.backoff_rate),
            (1, 3, 2.0)
        );
        assert_eq!(task.catch.len(), 2);
        assert_eq!(task.catch[0].next, "Done");
        assert_eq!(path_text(&task.catch[0].result_path), Some("$.error"));
        assert!(matches!(task.catch[1].result_path, PathField::Null));
        assert!(task_state.io.result_selector.is_some());
        assert_eq!(task_state.successors(), ["Done", "Done", "Done"]);
        Ok(())
    }

    #[test]
    fn task_resources() -> Result<(), AslError> {
        let cases = [
            (
                "${TransformFunctionArn}",
                Resource::LambdaFunction { function: "${TransformFunctionArn}".to_owned() },
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:extract",
                Resource::LambdaFunction {
                    function: "arn:aws:lambda:eu-west-1:123456789012:function:extract".to_owned(),
                },
            ),
            (
                "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:extract:live",
                Resource::LambdaFunction {
                    function:
                        "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:extract:live"
                            .to_owned(),
                },
            ),
            (
                "arn:aws:states:::states:startExecution",
                Resource::StartExecution { mode: ExecMode::FireAndForget },
            ),
            (
                "arn:aws:states:::states:startExecution.sync",
                Resource::StartExecution { mode: ExecMode::Sync },
            ),
            (
                "arn:aws:states:::states:startExecution.sync:2",
                Resource::StartExecution { mode: ExecMode::Sync2 },
            ),
            ("arn:aws-cn:states:::lambda:invoke", Resource::LambdaInvoke),
        ];
        for (resource, expected) in cases {
            let parameters = match &expected {
                Resource::LambdaInvoke => r#""Parameters": {"FunctionName": "f"},"#,
                Resource::StartExecution { .. } => {
                    r#""Parameters": {"StateMachineArn": "${Child}", "Input.$": "$", "Name.$": "$.name"},"#
                }
                Resource::LambdaFunction { .. } => "",
            };
            let machine = load(&format!(
                r#"{{"StartAt": "S", "States": {{"S": {{"Type": "Task", "Resource": "{resource}", {parameters} "End": true}}}}}}"#
            ))?;
            let StateKind::Task(task) = &state(&machine, "S").kind else { panic!("not a Task") };
            assert_eq!(task.resource, expected, "{resource}");
            assert_eq!(task.resource_arn, resource);
        }
        Ok(())
    }

    #[test]
    fn choice_state_fields() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Route", "States": {
                "Route": {"Type": "Choice", "InputPath": "$.status", "OutputPath": "$",
                    "Choices": [
                        {"Variable": "$.mode", "StringEquals": "reprocess", "Next": "Reprocess"},
                        {"And": [{"Variable": "$.n", "IsPresent": true}, {"Variable": "$.n", "NumericGreaterThan": 3}],
                         "Next": "Big"}],
                    "Default": "Done"},
                "Reprocess": {"Type": "Pass", "Next": "Done"},
                "Big": {"Type": "Pass", "End": true},
                "Done": {"Type": "Succeed"}}}"#,
        )?;
        let route = state(&machine, "Route");
        assert_eq!(route.transition, Transition::Choice);
        assert_eq!(path_text(&route.io.input_path), Some("$.status"));
        let StateKind::Choice(choice) = &route.kind else { panic!("not a Choice: {route:?}") };
        let targets: Vec<&str> = choice.choices.iter().map(|branch| branch.next.as_str()).collect();
        assert_eq!(targets, ["Reprocess", "Big"]);
        assert_eq!(choice.default.as_deref(), Some("Done"));
        assert_eq!(route.successors(), ["Reprocess", "Big", "Done"]);
        Ok(())
    }

    #[test]
    fn wait_state_variants() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "A", "States": {
                "A": {"Type": "Wait", "Seconds": 10, "Next": "B"},
                "B": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "Next": "C"},
                "C": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "D"},
                "D": {"Type": "Wait", "TimestampPath": "$.until", "Next": "E"},
                "E": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.250+02:00", "End": true}}}"#,
        )?;
        let kinds: Vec<&StateKind> = machine.states.iter().map(|state| &state.kind).collect();
        assert!(matches!(kinds[0], StateKind::Wait(Wait::Seconds(10))));
        let StateKind::Wait(Wait::Timestamp(at)) = kinds[1] else { panic!("not a Timestamp wait") };
        assert_eq!(at.timestamp(), 1_457_920_740);
        assert!(
            matches!(kinds[2], StateKind::Wait(Wait::SecondsPath(path)) if path.as_str() == "$.delay")
        );
        assert!(
            matches!(kinds[3], StateKind::Wait(Wait::TimestampPath(path)) if path.as_str() == "$.until")
        );
        let StateKind::Wait(Wait::Timestamp(offset)) = kinds[4] else {
            panic!("not a Timestamp wait")
        };
        assert_eq!(offset.timestamp(), 1_457_913_540);
        Ok(())
    }

    #[test]
    fn succeed_and_fail_states() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [
                    {"Variable": "$.ok", "BooleanEquals": true, "Next": "Ok"},
                    {"Variable": "$.kind", "StringEquals": "dynamic", "Next": "Dynamic"}],
                  "Default": "Static"},
                "Ok": {"Type": "Succeed", "InputPath": "$.result", "OutputPath": "$"},
                "Static": {"Type": "Fail", "Error": "GraphEtl.BadInput", "Cause": "no rows"},
                "Dynamic": {"Type": "Fail", "ErrorPath": "$.error",
                            "CausePath": "States.Format('file {} failed', $.key)"}}}"#,
        )?;
        let ok = state(&machine, "Ok");
        assert!(matches!(ok.kind, StateKind::Succeed));
        assert_eq!(ok.transition, Transition::Terminal);
        assert_eq!(path_text(&ok.io.input_path), Some("$.result"));
        let StateKind::Fail(fixed) = &state(&machine, "Static").kind else { panic!("not a Fail") };
        assert_eq!(fixed.error.as_deref(), Some("GraphEtl.BadInput"));
        assert_eq!(fixed.cause.as_deref(), Some("no rows"));
        assert!(fixed.error_path.is_none() && fixed.cause_path.is_none());
        let StateKind::Fail(dynamic) = &state(&machine, "Dynamic").kind else {
            panic!("not a Fail")
        };
        assert!(
            matches!(&dynamic.error_path, Some(StringSource::Path(path)) if path.as_str() == "$.error")
        );
        assert!(matches!(dynamic.cause_path, Some(StringSource::Intrinsic(_))));
        assert!(dynamic.error.is_none() && dynamic.cause.is_none());
        Ok(())
    }

    #[test]
    fn parallel_state_fields() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Both", "States": {
                "Both": {"Type": "Parallel", "Parameters": {"run.$": "$.runId"},
                    "ResultSelector": {"first.$": "$[0]"}, "ResultPath": "$.both",
                    "Branches": [
                        {"Comment": "left", "StartAt": "L1", "States": {"L1": {"Type": "Pass", "Next": "L2"},
                                                                        "L2": {"Type": "Succeed"}}},
                        {"StartAt": "R1", "States": {"R1": {"Type": "Wait", "Seconds": 1, "End": true}}}],
                    "Retry": [{"ErrorEquals": ["States.BranchFailed"], "MaxAttempts": 0}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                    "Next": "Done"},
                "Failed": {"Type": "Fail", "Error": "Branch"},
                "Done": {"Type": "Succeed"}}}"#,
        )?;
        let both = state(&machine, "Both");
        let StateKind::Parallel(parallel) = &both.kind else { panic!("not a Parallel: {both:?}") };
        assert_eq!(parallel.branches.len(), 2);
        assert_eq!(parallel.branches[0].comment.as_deref(), Some("left"));
        assert_eq!(parallel.branches[0].start_at, "L1");
        assert_eq!(parallel.branches[0].states.len(), 2);
        assert!(parallel.branches[0].timeout_seconds.is_none());
        assert!(parallel.branches[1].state("R1").is_some());
        assert_eq!(parallel.retry[0].max_attempts, 0);
        assert_eq!(parallel.catch[0].next, "Failed");
        assert!(both.io.parameters.is_some() && both.io.result_selector.is_some());
        assert_eq!(both.successors(), ["Done", "Failed"]);
        Ok(())
    }

    #[test]
    fn inline_map_with_legacy_names() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.queries",
                "Parameters": {"query.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                "MaxConcurrencyPath": "$.parallelism", "ResultSelector": {"n.$": "States.ArrayLength($)"},
                "Iterator": {"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": true}}},
                "End": true}}}"#,
        )?;
        let each = state(&machine, "Each");
        let StateKind::Map(map) = &each.kind else { panic!("not a Map: {each:?}") };
        assert_eq!(map.mode, MapMode::Inline);
        assert_eq!(map.items_path.as_ref().map(JsonPath::as_str), Some("$.queries"));
        assert!(map.item_selector.is_some());
        assert!(each.io.parameters.is_none());
        assert!(
            matches!(&map.max_concurrency, Some(Dynamic::Path(path)) if path.as_str() == "$.parallelism")
        );
        assert_eq!(map.processor.start_at, "Run");
        assert!(
            map.item_reader.is_none() && map.item_batcher.is_none() && map.result_writer.is_none()
        );
        assert!(map.label.is_none());
        Ok(())
    }

    #[test]
    fn inline_map_with_current_names_and_items_from_context() -> Result<(), AslError> {
        let machine = load(&with_map(
            r#"{"Mode": "INLINE"}"#,
            r#", "ItemsPath": "$$.Execution.Input.items", "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "MaxConcurrency": 0"#,
        ))?;
        let StateKind::Map(map) = &state(&machine, "M").kind else { panic!("not a Map") };
        assert_eq!(map.mode, MapMode::Inline);
        assert!(matches!(map.max_concurrency, Some(Dynamic::Fixed(0))));
        Ok(())
    }

    #[test]
    fn distributed_map_reader_options() -> Result<(), AslError> {
        let machine = load(&with_map(
            r#"{"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}"#,
            r#", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                    "Parameters": {"Bucket": "${B}", "Key.$": "$.key"},
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                                     "CSVHeaders": ["id", "name"], "CSVDelimiter": "SEMICOLON",
                                     "MaxItemsPath": "$.limit"}},
                "ItemBatcher": {"MaxInputBytesPerBatchPath": "$.bytes", "MaxItemsPerBatch": 100},
                "ToleratedFailureCountPath": "$.tolerated", "ToleratedFailurePercentage": 12.5"#,
        ))?;
        let StateKind::Map(map) = &state(&machine, "M").kind else { panic!("not a Map") };
        assert_eq!(map.mode, MapMode::Distributed { execution_type: ExecutionType::Express });
        let Some(reader) = &map.item_reader else { panic!("no ItemReader") };
        let expected = ReaderInputType::Csv {
            header_location: CsvHeaderLocation::Given(vec!["id".to_owned(), "name".to_owned()]),
            delimiter: CsvDelimiter::Semicolon,
        };
        assert_eq!(reader.source, ReaderSource::GetObject { input_type: expected });
        assert!(
            matches!(&reader.max_items, Some(Dynamic::Path(path)) if path.as_str() == "$.limit")
        );
        let Some(batcher) = &map.item_batcher else { panic!("no ItemBatcher") };
        assert!(matches!(batcher.max_items_per_batch, Some(Dynamic::Fixed(100))));
        assert!(matches!(&batcher.max_input_bytes_per_batch, Some(Dynamic::Path(_))));
        assert!(matches!(&map.tolerated_failure_count, Some(Dynamic::Path(_))));
        assert!(matches!(map.tolerated_failure_percentage, Some(Dynamic::Fixed(p)) if p == 12.5));
        assert_eq!(CsvDelimiter::Semicolon.as_char(), ';');

        for (input_type, expected) in
            [("JSON", ReaderInputType::Json), ("JSONL", ReaderInputType::Jsonl)]
        {
            let machine = load(&with_distributed_map(&format!(
                r#", "ItemReader": {{"Resource": "arn:aws:states:::s3:getObject",
                    "Parameters": {{"Bucket": "b", "Key": "k"}},
                    "ReaderConfig": {{"InputType": "{input_type}", "MaxItems": 100000000}}}}"#
            )))?;
            let StateKind::Map(map) = &state(&machine, "M").kind else { panic!("not a Map") };
            let Some(reader) = &map.item_reader else { panic!("no ItemReader") };
            assert_eq!(reader.source, ReaderSource::GetObject { input_type: expected });
            assert!(matches!(reader.max_items, Some(Dynamic::Fixed(100_000_000))));
        }
        Ok(())
    }

    #[test]
    fn nested_scopes_may_nest() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Outer", "States": {"Outer": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Inner", "States": {"Inner": {"Type": "Map", "End": true,
                    "ItemProcessor": {"StartAt": "Deep", "States": {"Deep": {"Type": "Pass", "End": true}}}}}}]}}}"#,
        )?;
        let StateKind::Parallel(parallel) = &state(&machine, "Outer").kind else {
            panic!("not a Parallel")
        };
        let StateKind::Map(map) = &state(&parallel.branches[0], "Inner").kind else {
            panic!("not a Map")
        };
        assert!(map.processor.state("Deep").is_some());
        Ok(())
    }

    #[test]
    fn loops_are_allowed_when_a_terminal_state_exists() -> Result<(), AslError> {
        let machine = load(
            r#"{"StartAt": "Poll", "States": {
                "Poll": {"Type": "Task", "Resource": "${StatusFn}", "Next": "Decide"},
                "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "Done"}],
                           "Default": "Sleep"},
                "Sleep": {"Type": "Wait", "Seconds": 30, "Next": "Poll"},
                "Done": {"Type": "Succeed"}}}"#,
        )?;
        assert_eq!(machine.states.len(), 4);
        Ok(())
    }
}

mod invalid {
    use super::*;

    #[test]
    fn not_json_or_not_an_object() {
        assert_problem("{", None, "(json)", "not a valid JSON definition");
        assert_problem("[1]", None, "(definition)", "must be a JSON object, found an array");
        assert_problem(
            r#"{"StartAt": "A", "StartAt": "B", "States": {}}"#,
            None,
            "(json)",
            "duplicate key \"StartAt\"",
        );
    }

    #[test]
    fn error_display_names_origin_state_and_field() {
        let err = match StateMachine::from_json(
            &with_task(r#", "Bogus": 1"#),
            "statemachine/etl.asl.json",
        ) {
            Ok(_) => panic!("accepted an unknown field"),
            Err(err) => err,
        };
        assert_eq!(
            err.to_string(),
            "statemachine/etl.asl.json: state \"S\": field Bogus: unknown field in a Task state"
        );
        assert_eq!(err.problems[0].state.as_deref(), Some("S"));
        assert_eq!(err.problems[0].field, "Bogus");

        let two = StateMachine::from_json(
            r#"{"StartAt": 1, "States": {"A": {"Type": "Succeed"}}, "X": 0}"#,
            "two",
        );
        let lines: Vec<String> = match two {
            Ok(_) => panic!("accepted a bad definition"),
            Err(err) => err.to_string().lines().map(str::to_owned).collect(),
        };
        assert_eq!(
            lines,
            [
                "two: field X: unknown field in the top level of a definition",
                "two: field StartAt: must be a string, found a number"
            ]
        );
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let found = problems(
            r#"{"StartAt": "A", "Extra": true, "States": {
                "A": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "Next": "B"},
                "B": {"Type": "Wait", "Seconds": -1, "Next": "Nowhere"},
                "C": {"Type": "Pass", "End": true, "Assign": {"x": 1}}}}"#,
        );
        assert!(found.len() >= 5, "{found:#?}");
        for fragment in [
            "field Extra: unknown field",
            "state \"A\": field Resource: unsupported resource",
            "state \"B\": field Seconds: must be an integer from 0",
            "state \"B\": field Next: there is no state named \"Nowhere\"",
            "state \"C\": field Assign: workflow variables",
        ] {
            assert!(
                found.iter().any(|problem| problem.starts_with(fragment)),
                "{fragment:?} not in {found:#?}"
            );
        }
    }

    #[test]
    fn jsonata_is_rejected_anywhere() {
        let top =
            r#"{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#;
        assert_problem(top, None, "QueryLanguage", "JSONata query language is not supported");
        assert_problem(
            &with_state(
                r#"{"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "Next": "Done"}"#,
            ),
            Some("S"),
            "QueryLanguage",
            "JSONata",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "Output": {}, "Next": "Done"}"#),
            Some("S"),
            "Output",
            "JSONata",
        );
        assert_problem(&with_task(r#", "Arguments": {}"#), Some("S"), "Arguments", "JSONata");
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "Done"}]}"#,
            ),
            Some("S"),
            "Choices[0].Condition",
            "JSONata",
        );
        assert_problem(
            &with_task(
                r#", "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {}, "Next": "Done"}]"#,
            ),
            Some("S"),
            "Catch[0].Output",
            "JSONata",
        );
        assert_problem(
            r#"{"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#,
            None,
            "QueryLanguage",
            "must be \"JSONPath\"",
        );
        assert_problem(
            r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
                {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]}}}"#,
            Some("P/Branches[0]"),
            "QueryLanguage",
            "JSONata",
        );
    }

    #[test]
    fn unsupported_features_are_named() {
        assert_problem(
            &with_task(r#", "Assign": {"x.$": "$"}"#),
            Some("S"),
            "Assign",
            "not supported by graphetl's local runner",
        );
        assert_problem(
            &with_task(r#", "Credentials": {"RoleArn": "arn:aws:iam::1:role/x"}"#),
            Some("S"),
            "Credentials",
            "not supported by graphetl's local runner",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            "supported: arn:aws:states:::lambda:invoke",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            "unsupported resource \"arn:aws:states:::dynamodb:putItem\"",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:x", "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            "unsupported resource",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "f"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            ".waitForTaskToken) is not supported",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                    "Parameters": {"StateMachineArn": "x"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            ".waitForTaskToken",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:", "Next": "Done"}"#,
            ),
            Some("S"),
            "Resource",
            "unsupported resource",
        );
    }

    #[test]
    fn integration_parameters_are_checked() {
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters",
            "is required for lambda:invoke",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters",
            "lambda:invoke needs FunctionName",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "InvocationType": "Event"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters.InvocationType",
            "only \"RequestResponse\"",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "LogType": "Tail"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters.LogType",
            "not supported",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"Input.$": "$", "Nme": "x"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters.Nme",
            "is not a parameter of states:startExecution",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"Input.$": "$"}, "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters",
            "needs StateMachineArn",
        );
    }

    #[test]
    fn unknown_and_misplaced_fields() {
        assert_problem(
            r#"{"StartAt": "A", "Versoin": "1.0", "States": {"A": {"Type": "Succeed"}}}"#,
            None,
            "Versoin",
            "unknown field in the top level",
        );
        assert_problem(
            r#"{"StartAt": "A", "Version": "2.0", "States": {"A": {"Type": "Succeed"}}}"#,
            None,
            "Version",
            "must be \"1.0\"",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "Reslt": 1, "Next": "Done"}"#),
            Some("S"),
            "Reslt",
            "unknown field in a Pass state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "ResultSelector": {}, "Next": "Done"}"#),
            Some("S"),
            "ResultSelector",
            "not allowed in a Pass state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Succeed", "ResultPath": "$.x"}"#),
            Some("S"),
            "ResultPath",
            "not allowed in a Succeed state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "InputPath": "$.x"}"#),
            Some("S"),
            "InputPath",
            "not allowed in a Fail state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "OutputPath": "$.x"}"#),
            Some("S"),
            "OutputPath",
            "not allowed in a Fail state",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "ResultPath": "$.x", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
            ),
            Some("S"),
            "ResultPath",
            "not allowed in a Choice state",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Parameters": {}, "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
            ),
            Some("S"),
            "Parameters",
            "not allowed in a Choice state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Wait", "Seconds": 1, "Result": 1, "Next": "Done"}"#),
            Some("S"),
            "Result",
            "not allowed in a Wait state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "Retry": [], "Next": "Done"}"#),
            Some("S"),
            "Retry",
            "not allowed in a Pass state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Wait", "Seconds": 1, "Catch": [], "Next": "Done"}"#),
            Some("S"),
            "Catch",
            "not allowed in a Wait state",
        );
        assert_problem(
            &with_state(r#"{"Type": "Magic", "Next": "Done"}"#),
            Some("S"),
            "Type",
            "\"Magic\" is not a state type",
        );
        assert_problem(&with_state(r#"{"Next": "Done"}"#), Some("S"), "Type", "is required");
        assert_problem(&with_state("[]"), Some("S"), "(state)", "must be a JSON object");
        assert_problem(
            r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "TimeoutSeconds": 5, "States": {"A": {"Type": "Succeed"}}}]}}}"#,
            Some("P/Branches[0]"),
            "TimeoutSeconds",
            "unknown field in a Parallel branch",
        );
    }

    #[test]
    fn top_level_structure() {
        assert_problem(r#"{"States": {"A": {"Type": "Succeed"}}}"#, None, "StartAt", "is required");
        assert_problem(r#"{"StartAt": "A"}"#, None, "States", "is required");
        assert_problem(r#"{"StartAt": "A", "States": {}}"#, None, "States", "at least one state");
        assert_problem(
            r#"{"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}"#,
            None,
            "StartAt",
            "no state named \"B\"",
        );
        assert_problem(
            r#"{"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}}"#,
            None,
            "TimeoutSeconds",
            "must be an integer from 1 to 99999999, found 0",
        );
        let long_name = "N".repeat(81);
        assert_problem(
            &format!(
                r#"{{"StartAt": "{long_name}", "States": {{"{long_name}": {{"Type": "Succeed"}}}}}}"#
            ),
            Some(&long_name),
            "(name)",
            "1 to 80 characters, found 81",
        );
    }

    #[test]
    fn transitions() {
        assert_problem(
            &with_state(r#"{"Type": "Pass", "End": true, "Next": "Done"}"#),
            Some("S"),
            "End",
            "both \"End\": true and Next",
        );
        assert_problem(&with_state(r#"{"Type": "Pass"}"#), Some("S"), "Next", "is required unless");
        assert_problem(
            &with_state(r#"{"Type": "Pass", "End": false}"#),
            Some("S"),
            "Next",
            "is required unless",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "End": "yes"}"#),
            Some("S"),
            "End",
            "must be a boolean",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "Next": 3}"#),
            Some("S"),
            "Next",
            "must be a state name",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "End": true, "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
            ),
            Some("S"),
            "End",
            "a Choice state has no Next or End",
        );
        assert_problem(
            &with_state(r#"{"Type": "Succeed", "Next": "Done"}"#),
            Some("S"),
            "Next",
            "a Succeed state ends its machine",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "End": true}"#),
            Some("S"),
            "End",
            "a Fail state ends its machine",
        );
        assert_problem(
            &with_state(r#"{"Type": "Pass", "Next": "Missing"}"#),
            Some("S"),
            "Next",
            "no state named \"Missing\"",
        );
        assert_problem(
            &with_task(r#", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Elsewhere"}]"#),
            Some("S"),
            "Catch[0].Next",
            "no state named \"Elsewhere\"",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}], "Default": "Gone"}"#,
            ),
            Some("S"),
            "Default",
            "no state named \"Gone\"",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Gone"}], "Default": "Done"}"#,
            ),
            Some("S"),
            "Choices[0].Next",
            "no state named \"Gone\"",
        );
    }

    #[test]
    fn nested_scopes_are_closed() {
        let into_branch = r#"{"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Inside", "Branches": [
                {"StartAt": "Inside", "States": {"Inside": {"Type": "Pass", "Next": "After"}}}]},
            "After": {"Type": "Succeed"}}}"#;
        assert_problem(
            into_branch,
            Some("P"),
            "Next",
            "is the state \"P/Branches[0]/Inside\" in another scope",
        );
        assert_problem(
            into_branch,
            Some("P/Branches[0]/Inside"),
            "Next",
            "\"After\" is the state \"After\" in another scope",
        );
        let out_of_map = r#"{"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Work", "States": {
                "Work": {"Type": "Pass", "Next": "Escape"}}}},
            "Escape": {"Type": "Succeed"}}}"#;
        assert_problem(out_of_map, Some("M/ItemProcessor/Work"), "Next", "in another scope");
        assert_problem(
            r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                "ItemProcessor": {"StartAt": "Nope", "States": {"Work": {"Type": "Pass", "End": true}}}}}}"#,
            Some("M/ItemProcessor"),
            "StartAt",
            "no state named \"Nope\"",
        );
    }

    #[test]
    fn unreachable_states_and_missing_terminal() {
        assert_problem(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "Orphan": {"Type": "Succeed"}}}"#,
            Some("Orphan"),
            "(state)",
            "is not reachable from StartAt \"A\"",
        );
        assert_problem(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}"#,
            None,
            "States",
            "has no terminal state",
        );
        assert_problem(
            r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Next": "A"}}}]}}}"#,
            Some("P/Branches[0]"),
            "States",
            "has no terminal state",
        );
        assert_problem(
            r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "A", "States": {
                "A": {"Type": "Pass", "End": true}, "Lost": {"Type": "Pass", "End": true}}}}}}"#,
            Some("M/ItemProcessor/Lost"),
            "(state)",
            "not reachable",
        );
    }

    #[test]
    fn state_names_are_unique_across_scopes() {
        assert_problem(
            r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "Next": "Work", "Branches": [
                {"StartAt": "Work", "States": {"Work": {"Type": "Succeed"}}}]},
                "Work": {"Type": "Succeed"}}}"#,
            Some("Work"),
            "(name)",
            "already used by state \"P/Branches[0]/Work\"",
        );
    }

    #[test]
    fn retry_rules() {
        let retry = |retriers: &str| with_task(&format!(r#", "Retry": {retriers}"#));
        assert_problem(&retry(r#"{}"#), Some("S"), "Retry", "must be an array of retriers");
        assert_problem(
            &retry(r#"[{"IntervalSeconds": 1}]"#),
            Some("S"),
            "Retry[0].ErrorEquals",
            "is required",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": []}]"#),
            Some("S"),
            "Retry[0].ErrorEquals",
            "at least one error name",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": [""]}]"#),
            Some("S"),
            "Retry[0].ErrorEquals[0]",
            "non-empty string",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["States.ALL", "States.Timeout"]}]"#),
            Some("S"),
            "Retry[0].ErrorEquals",
            "States.ALL must appear alone",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]"#),
            Some("S"),
            "Retry[0].ErrorEquals",
            "States.ALL must be in the last retrier",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "IntervalSeconds": 0}]"#),
            Some("S"),
            "Retry[0].IntervalSeconds",
            "from 1 to 99999999, found 0",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "IntervalSeconds": 1.5}]"#),
            Some("S"),
            "Retry[0].IntervalSeconds",
            "must be an integer",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "MaxAttempts": -1}]"#),
            Some("S"),
            "Retry[0].MaxAttempts",
            "from 0 to 99999999, found -1",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "BackoffRate": 0.5}]"#),
            Some("S"),
            "Retry[0].BackoffRate",
            "of at least 1.0, found 0.5",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]"#),
            Some("S"),
            "Retry[0].MaxDelaySeconds",
            "from 1 to 31622400",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}]"#),
            Some("S"),
            "Retry[0].MaxDelaySeconds",
            "from 1 to 31622400",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]"#),
            Some("S"),
            "Retry[0].JitterStrategy",
            "\"FULL\" or \"NONE\"",
        );
        assert_problem(
            &retry(r#"[{"ErrorEquals": ["X"], "Bogus": 1}]"#),
            Some("S"),
            "Retry[0].Bogus",
            "unknown field in a retrier",
        );
    }

    #[test]
    fn catch_rules() {
        let catch = |catchers: &str| with_task(&format!(r#", "Catch": {catchers}"#));
        assert_problem(
            &catch(
                r#"[{"ErrorEquals": ["States.ALL"], "Next": "Done"}, {"ErrorEquals": ["X"], "Next": "Done"}]"#,
            ),
            Some("S"),
            "Catch[0].ErrorEquals",
            "States.ALL must be in the last catcher",
        );
        assert_problem(
            &catch(r#"[{"ErrorEquals": ["X"]}]"#),
            Some("S"),
            "Catch[0].Next",
            "is required",
        );
        assert_problem(
            &catch(r#"[{"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$$.x"}]"#),
            Some("S"),
            "Catch[0].ResultPath",
            "Context Object",
        );
        assert_problem(
            &catch(r#"[{"ErrorEquals": ["X"], "Next": "Done", "Assign": {}}]"#),
            Some("S"),
            "Catch[0].Assign",
            "not supported",
        );
    }

    #[test]
    fn task_timeouts() {
        assert_problem(
            &with_task(r#", "TimeoutSeconds": 0"#),
            Some("S"),
            "TimeoutSeconds",
            "from 1 to 99999999",
        );
        assert_problem(
            &with_task(r#", "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t""#),
            Some("S"),
            "TimeoutSecondsPath",
            "cannot be given together with TimeoutSeconds",
        );
        assert_problem(
            &with_task(r#", "TimeoutSeconds": 10, "HeartbeatSeconds": 10"#),
            Some("S"),
            "HeartbeatSeconds",
            "smaller than TimeoutSeconds (10)",
        );
        assert_problem(
            &with_task(r#", "TimeoutSecondsPath": "$$.Execution.Input.t""#),
            Some("S"),
            "TimeoutSecondsPath",
            "Context Object",
        );
        assert_problem(
            &with_task(r#", "HeartbeatSecondsPath": "$.beats[*]""#),
            Some("S"),
            "HeartbeatSecondsPath",
            "must be a Reference Path",
        );
    }

    #[test]
    fn io_paths() {
        assert_problem(
            &with_task(r#", "ResultPath": "$$.x""#),
            Some("S"),
            "ResultPath",
            "Context Object",
        );
        assert_problem(
            &with_task(r#", "ResultPath": "$.items[*]""#),
            Some("S"),
            "ResultPath",
            "must be a Reference Path",
        );
        assert_problem(
            &with_task(r#", "ResultPath": 5"#),
            Some("S"),
            "ResultPath",
            "must be a path or null",
        );
        assert_problem(
            &with_task(r#", "InputPath": "nope""#),
            Some("S"),
            "InputPath",
            "is not a valid path",
        );
        assert_problem(
            &with_task(r#", "OutputPath": "$.a[""#),
            Some("S"),
            "OutputPath",
            "is not a valid path",
        );
        assert_problem(
            &with_task(r#", "ResultSelector": "$.x""#),
            Some("S"),
            "ResultSelector",
            "must be an object (a payload template)",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Task", "Resource": "${Fn}", "Parameters": [1], "Next": "Done"}"#,
            ),
            Some("S"),
            "Parameters",
            "must be an object",
        );
    }

    #[test]
    fn choice_rules() {
        assert_problem(
            &with_state(r#"{"Type": "Choice", "Choices": []}"#),
            Some("S"),
            "Choices",
            "at least one Choice rule",
        );
        assert_problem(
            &with_state(r#"{"Type": "Choice", "Default": "Done"}"#),
            Some("S"),
            "Choices",
            "is required",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}], "Default": "Done"}"#,
            ),
            Some("S"),
            "Choices[0].Next",
            "is required in a top-level Choice rule",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done", "Assign": {}}]}"#,
            ),
            Some("S"),
            "Choices[0].Assign",
            "not supported",
        );
        assert_problem(
            &with_state(r#"{"Type": "Choice", "Choices": [3], "Default": "Done"}"#),
            Some("S"),
            "Choices[0]",
            "must be an object",
        );
        // The rule itself is checked by the choice module; its message lands on the rule.
        let found = problems(&with_state(
            r#"{"Type": "Choice", "Choices": [{"Next": "Done"}], "Default": "Done"}"#,
        ));
        assert!(
            found.iter().any(|problem| problem.starts_with("state \"S\": field Choices[0]: ")),
            "{found:#?}"
        );
    }

    #[test]
    fn wait_rules() {
        assert_problem(
            &with_state(r#"{"Type": "Wait", "Next": "Done"}"#),
            Some("S"),
            "Seconds",
            "needs one of Seconds",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Wait", "Seconds": 1, "TimestampPath": "$.t", "Next": "Done"}"#,
            ),
            Some("S"),
            "TimestampPath",
            "exactly one of",
        );
        assert_problem(
            &with_state(r#"{"Type": "Wait", "Seconds": 100000000, "Next": "Done"}"#),
            Some("S"),
            "Seconds",
            "from 0 to 99999999",
        );
        for bad in [
            "2016-03-14",
            "2016-03-14t01:59:00Z",
            "2016-03-14T01:59:00z",
            "2016-03-14 01:59:00Z",
            "yesterday",
        ] {
            assert_problem(
                &with_state(&format!(
                    r#"{{"Type": "Wait", "Timestamp": "{bad}", "Next": "Done"}}"#
                )),
                Some("S"),
                "Timestamp",
                "is not an RFC 3339 timestamp",
            );
        }
        assert_problem(
            &with_state(r#"{"Type": "Wait", "SecondsPath": "$$.x", "Next": "Done"}"#),
            Some("S"),
            "SecondsPath",
            "Context Object",
        );
    }

    #[test]
    fn fail_rules() {
        assert_problem(
            &with_state(r#"{"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}"#),
            Some("S"),
            "ErrorPath",
            "cannot be given together with Error",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "Cause": "c", "CausePath": "$.c"}"#),
            Some("S"),
            "CausePath",
            "cannot be given together with Cause",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "Error": 3}"#),
            Some("S"),
            "Error",
            "must be a string",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "CausePath": "States.Nope(1)"}"#),
            Some("S"),
            "CausePath",
            "States.Nope",
        );
        assert_problem(
            &with_state(r#"{"Type": "Fail", "ErrorPath": "$.e[*]"}"#),
            Some("S"),
            "ErrorPath",
            "must be a Reference Path",
        );
    }

    #[test]
    fn parallel_rules() {
        assert_problem(
            &with_state(r#"{"Type": "Parallel", "Next": "Done"}"#),
            Some("S"),
            "Branches",
            "is required",
        );
        assert_problem(
            &with_state(r#"{"Type": "Parallel", "Branches": [], "Next": "Done"}"#),
            Some("S"),
            "Branches",
            "at least one branch",
        );
        assert_problem(
            &with_state(r#"{"Type": "Parallel", "Branches": [1], "Next": "Done"}"#),
            Some("S"),
            "Branches[0]",
            "must be an object",
        );
        assert_problem(
            &with_state(
                r#"{"Type": "Parallel", "Branches": [{"States": {"A": {"Type": "Succeed"}}}], "Next": "Done"}"#,
            ),
            Some("S/Branches[0]"),
            "StartAt",
            "is required",
        );
    }

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
        assert_problem(
            &map(r#", "Label": "two words""#),
            Some("M"),
            "Label",
            "must not contain ' '",
        );
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
            "JSONata",
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
            &writer(
                r#"{"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}}"#,
            ),
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
            &writer(
                r#"{"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Prefix": "p"}}"#,
            ),
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

    #[test]
    fn nested_error_paths_name_the_nesting() {
        let text =
            DISTRIBUTED_EXAMPLE.replace(r#""IntervalSeconds": 5"#, r#""IntervalSeconds": 0"#);
        assert_problem(
            &text,
            Some("TransformFiles/ItemProcessor/TransformBatch"),
            "Retry[1].IntervalSeconds",
            "from 1 to 99999999, found 0",
        );
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = StateMachine::from_json(&text, "fuzz");
            let _ = placeholders(&text);
        }

        #[test]
        fn damaged_definitions_never_panic(cut in 0usize..4000, insert in "[\\[\\]{}\",:$ a-zA-Z0-9.*-]{0,3}") {
            let mut text = DISTRIBUTED_EXAMPLE.to_owned();
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, &insert);
            let _ = StateMachine::from_json(&text, "fuzz");
        }

        #[test]
        fn arbitrary_json_values_never_panic(value in json_value()) {
            let _ = StateMachine::from_value(&value, "fuzz");
            let wrapped = serde_json::json!({"StartAt": "S", "States": {"S": value}});
            let _ = StateMachine::from_value(&wrapped, "fuzz");
        }
    }

    /// Small JSON values made of ASL-looking keys and values.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "Type",
            "Next",
            "End",
            "Resource",
            "Parameters",
            "Retry",
            "Catch",
            "ErrorEquals",
            "Choices",
            "Branches",
            "ItemProcessor",
            "StartAt",
            "States",
            "ProcessorConfig",
            "Mode",
            "Seconds",
            "S",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            prop::sample::select(vec![
                "Task",
                "Map",
                "Pass",
                "Choice",
                "S",
                "$",
                "$.a",
                "DISTRIBUTED",
                "States.ALL"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(
                    |map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                ),
            ]
        })
    }
}
