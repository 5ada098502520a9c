//! Definitions the loader accepts: every state type into the model, the reference's
//! Distributed Map example, placeholders and file order.

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
    assert_eq!((second.interval_seconds, second.max_attempts, second.backoff_rate), (5, 4, 2.0));
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
    let expected = ["AggregateFunctionArn", "RawBucket", "ResultsBucket", "TransformFunctionArn"];
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
    assert!(matches!(&task.heartbeat, Some(Dynamic::Path(path)) if path.as_str() == "$.heartbeat"));
    let retrier = &task.retry[0];
    assert_eq!(retrier.error_equals, ["States.ALL"]);
    assert_eq!((retrier.interval_seconds, retrier.max_attempts, retrier.backoff_rate), (1, 3, 2.0));
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
                function: "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:extract:live"
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
    let StateKind::Wait(Wait::Timestamp(offset)) = kinds[4] else { panic!("not a Timestamp wait") };
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
    let StateKind::Fail(dynamic) = &state(&machine, "Dynamic").kind else { panic!("not a Fail") };
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
    assert!(map.item_reader.is_none() && map.item_batcher.is_none() && map.result_writer.is_none());
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
    assert!(matches!(&reader.max_items, Some(Dynamic::Path(path)) if path.as_str() == "$.limit"));
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
