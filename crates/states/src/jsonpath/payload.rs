//! Payload templates: `Parameters`, `ItemSelector`, `ResultSelector` and `BatchInput` in
//! JSONPath states. Compiled once when a definition is loaded, rendered per state entry.
//!
//! Rules (ASL spec, "Payload Template"): a field whose name ends in `.$`, however deeply nested
//! (inside arrays too), is renamed without the suffix and its string value is evaluated: `$...`
//! is a path on the template's input, `$$...` a path on the context object, anything else an
//! intrinsic function. Names must stay unique after renaming. All other values are copied.
//! This module owns compilation and rendering only; which input a template sees is the caller's.

use serde_json::{Map, Value};

use super::intrinsics::{Intrinsic, looks_like_intrinsic};
use super::path::JsonPath;
use crate::error::{StatesError, names};
use crate::rng::Rng;

/// Guard against stack exhaustion on pathologically deep templates built in code
/// (templates parsed from JSON text are already limited by serde_json).
const MAX_TEMPLATE_DEPTH: usize = 512;

/// The error a path that matches nothing raises while rendering.
///
/// The ASL spec ("Payload Template") and the developer guide's error table name it
/// `States.ParameterPathFailure`, but the service raises `States.Runtime` (recorded: a Pass
/// state's `Parameters` with `"value.$": "$.no_such_jsonpath"`, LocalStack
/// `scenarios/test_base_scenarios.snapshot.json`, `test_invalid_jsonpath`), which nothing
/// retries or catches.
pub const PATH_FAILURE_ERROR: &str = names::RUNTIME;

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadTemplate {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A subtree with no `.$` field anywhere: copied as is.
    Literal(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// A `name.$` field's path; `field` is the name as written (with `.$`) for error causes.
    Path {
        field: String,
        path: JsonPath,
    },
    Intrinsic(Intrinsic),
}

impl PayloadTemplate {
    /// Compiles a template. Errors start with the key path relative to the template
    /// (e.g. `parts.first.$: invalid path ...`, `Items[0].Value.$: ...`); the caller adds the
    /// state and field names.
    pub fn parse(template: &Value) -> Result<PayloadTemplate, String> {
        Ok(PayloadTemplate { root: compile(template, "", 0)? })
    }

    /// Renders with the effective input and the context object.
    ///
    /// A path that matches nothing fails with [`PATH_FAILURE_ERROR`] and AWS's cause wording
    /// ("The JSONPath '$.x' specified for the field 'x.$' could not be found in the input
    /// '{}'"); an intrinsic that fails gives `States.IntrinsicFailure`.
    pub fn render(
        &self,
        input: &Value,
        context: &Value,
        rng: &mut Rng,
    ) -> Result<Value, StatesError> {
        render(&self.root, input, context, rng)
    }
}

fn child_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

fn compile(value: &Value, at: &str, depth: usize) -> Result<Node, String> {
    if depth > MAX_TEMPLATE_DEPTH {
        return Err(format!(
            "{at}: the template is nested more than {MAX_TEMPLATE_DEPTH} levels deep"
        ));
    }
    match value {
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            let mut dynamic = false;
            for (key, field_value) in map {
                let key_path = child_key(at, key);
                let (name, node) = match key.strip_suffix(".$") {
                    Some(name) => (name, compile_dynamic(field_value, &key_path, key)?),
                    None => (key.as_str(), compile(field_value, &key_path, depth + 1)?),
                };
                dynamic |= !matches!(node, Node::Literal(_));
                fields.push((name.to_owned(), node));
            }
            // "A JSON object MUST NOT have duplicate field names after fields ending with the
            // characters ".$" are renamed" (ASL spec, "Payload Template").
            let mut seen = std::collections::HashSet::new();
            for (name, _) in &fields {
                if !seen.insert(name.as_str()) {
                    return Err(format!(
                        "{}: fields '{name}' and '{name}.$' both produce '{name}'",
                        if at.is_empty() { "(template)" } else { at }
                    ));
                }
            }
            Ok(if dynamic { Node::Object(fields) } else { Node::Literal(value.clone()) })
        }
        Value::Array(items) => {
            let mut nodes = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                nodes.push(compile(item, &format!("{at}[{index}]"), depth + 1)?);
            }
            if nodes.iter().all(|node| matches!(node, Node::Literal(_))) {
                Ok(Node::Literal(value.clone()))
            } else {
                Ok(Node::Array(nodes))
            }
        }
        scalar => Ok(Node::Literal(scalar.clone())),
    }
}

fn compile_dynamic(value: &Value, key_path: &str, field: &str) -> Result<Node, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "{key_path}: the value of a field ending in '.$' must be a string (a path or an \
             intrinsic function), got {value}"
        ));
    };
    if text.starts_with('$') {
        let path = JsonPath::parse(text)
            .map_err(|message| format!("{key_path}: invalid path {message}"))?;
        Ok(Node::Path { field: field.to_owned(), path })
    } else if looks_like_intrinsic(text) {
        let call = Intrinsic::parse(text)
            .map_err(|message| format!("{key_path}: invalid intrinsic function: {message}"))?;
        Ok(Node::Intrinsic(call))
    } else {
        Err(format!(
            "{key_path}: '{text}' is neither a path (starting with '$') nor an intrinsic \
             function (starting with 'States.')"
        ))
    }
}

fn render(
    node: &Node,
    input: &Value,
    context: &Value,
    rng: &mut Rng,
) -> Result<Value, StatesError> {
    match node {
        Node::Literal(value) => Ok(value.clone()),
        Node::Object(fields) => {
            let mut out = Map::new();
            for (name, field) in fields {
                out.insert(name.clone(), render(field, input, context, rng)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => {
            items.iter().map(|item| render(item, input, context, rng)).collect::<Result<_, _>>().map(Value::Array)
        }
        Node::Path { field, path } => path.select(input, context).map_err(|_| {
            let source = if path.is_context() { context } else { input };
            StatesError::new(
                PATH_FAILURE_ERROR,
                format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{source}'",
                    path.as_str()
                ),
            )
        }),
        Node::Intrinsic(call) => call.eval(input, context, rng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use serde_json::json;

    fn template(value: Value) -> PayloadTemplate {
        match PayloadTemplate::parse(&value) {
            Ok(parsed) => parsed,
            Err(message) => panic!("{value}: {message}"),
        }
    }

    fn render(value: Value, input: &Value, context: &Value) -> Result<Value, StatesError> {
        template(value).render(input, context, &mut Rng::seeded(0))
    }

    #[test]
    fn spec_example() {
        // ASL spec, "Payload Template".
        let parameters = json!({
            "flagged": true,
            "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
            "weekday.$": "$$.DayOfWeek",
            "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"
        });
        let input = json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]});
        let context = json!({"DayOfWeek": "TUESDAY"});
        assert_eq!(
            render(parameters, &input, &context),
            Ok(json!({
                "flagged": true,
                "parts": {"first": 0, "last3": [30, 40, 50]},
                "weekday": "TUESDAY",
                "formattedOutput": "Today is TUESDAY"
            }))
        );
    }

    #[test]
    fn static_templates_are_copied() {
        // ASL spec, "Payload Template": {"first": 88, "second": 99} is its own payload.
        let cases = [
            json!({"first": 88, "second": 99}),
            json!([1, {"a": "$.not-a-path"}]),
            json!("text"),
            json!({}),
        ];
        for value in cases {
            assert_eq!(render(value.clone(), &json!({"x": 1}), &json!({})), Ok(value));
        }
    }

    #[test]
    fn fields_inside_arrays_are_evaluated() {
        // ECS-style overrides: "however deeply nested" includes objects inside arrays.
        let parameters = json!({
            "Overrides": {"ContainerOverrides": [
                {"Name": "app", "Environment": [{"Name": "ID", "Value.$": "$.systemId"}]}
            ]},
            "List": ["static", {"n.$": "States.MathAdd($.n, 1)"}]
        });
        let input = json!({"systemId": "sys-7", "n": 41});
        assert_eq!(
            render(parameters, &input, &json!({})),
            Ok(json!({
                "Overrides": {"ContainerOverrides": [
                    {"Name": "app", "Environment": [{"Name": "ID", "Value": "sys-7"}]}
                ]},
                "List": ["static", {"n": 42}]
            }))
        );
    }

    #[test]
    fn distributed_map_item_selector() {
        // The reference's §2.1 ItemSelector, rendered for one S3 listing item.
        let selector = json!({"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size", "runId.$": "$.runId"});
        let context =
            json!({"Map": {"Item": {"Index": 0, "Value": {"Key": "raw/a.csv", "Size": 12}}}});
        assert_eq!(
            render(selector, &json!({"runId": "r1"}), &context),
            Ok(json!({"key": "raw/a.csv", "size": 12, "runId": "r1"}))
        );
    }

    #[test]
    fn missing_path_uses_aws_cause() {
        let err = render(json!({"JobName.$": "$.JobName"}), &json!({}), &json!({}));
        assert_eq!(
            err,
            Err(StatesError::new(
                "States.Runtime",
                "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in the input '{}'"
            ))
        );
        let err = render(
            json!({"a": [{"id.$": "$$.Execution.Id"}]}),
            &json!({}),
            &json!({"Execution": {}}),
        );
        assert_eq!(
            err.map_err(|e| e.cause),
            Err("The JSONPath '$$.Execution.Id' specified for the field 'id.$' could not be found in the input '{\"Execution\":{}}'".to_owned())
        );
    }

    #[test]
    fn intrinsic_failures_keep_their_name() {
        let err = render(json!({"n.$": "States.ArrayLength($.s)"}), &json!({"s": "x"}), &json!({}));
        assert_eq!(err.map_err(|e| e.error), Err("States.IntrinsicFailure".to_owned()));
    }

    #[test]
    fn indefinite_paths_render_arrays() {
        let input = json!({"items": [{"k": 1}, {"k": 2}, {"j": 3}]});
        assert_eq!(
            render(json!({"ks.$": "$.items[*].k"}), &input, &json!({})),
            Ok(json!({"ks": [1, 2]}))
        );
        assert_eq!(
            render(json!({"none.$": "$.nothing[*]"}), &input, &json!({})),
            Ok(json!({"none": []}))
        );
    }

    #[test]
    fn compile_errors_name_the_key_path() {
        let cases = [
            (json!({"Payload.$": "$.a["}), "Payload.$: invalid path"),
            (
                json!({"parts": {"first.$": 3}}),
                "parts.first.$: the value of a field ending in '.$' must be a string",
            ),
            (
                json!({"Items": [{"Value.$": "plain"}]}),
                "Items[0].Value.$: 'plain' is neither a path",
            ),
            (
                json!({"x.$": "States.Nope()"}),
                "x.$: invalid intrinsic function: unknown intrinsic function",
            ),
            (json!({"a": 1, "a.$": "$.b"}), "(template): fields 'a' and 'a.$' both produce 'a'"),
            (json!({"o": {"a": 1, "a.$": "$.b"}}), "o: fields 'a' and 'a.$'"),
        ];
        for (value, needle) in cases {
            match PayloadTemplate::parse(&value) {
                Ok(parsed) => panic!("{value} compiled to {parsed:?}"),
                Err(message) => assert!(message.starts_with(needle), "{value}: {message}"),
            }
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "(\\$[.a-z\\[\\]0-9*]{0,8}|States\\.[A-Za-z]{0,12}\\([$.a-z0-9', ]{0,12}\\)|[a-z]{0,5})"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z]{0,3}(\\.\\$)?", inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_and_render_never_panic(value in arbitrary_json(), input in arbitrary_json()) {
            if let Ok(parsed) = PayloadTemplate::parse(&value) {
                let _ = parsed.render(&input, &input, &mut Rng::seeded(0));
            }
        }
    }
}
