//! The JSONata wrapper: expressions, templates, bindings and AWS's added functions.

use serde_json::{Map as JsonMap, Value, json};

use super::{Bindings, EvalFailure, Expression, Template};
use crate::rng::Rng;

fn eval(text: &str, input: Value, variables: Value) -> Result<Value, EvalFailure> {
    let expression = Expression::parse(text).map_err(EvalFailure::Error)?;
    let variables: JsonMap<String, Value> = match variables {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    };
    let bindings = Bindings {
        states: json!({"input": input, "context": {"Execution": {"Name": "e1"}}}),
        variables: &variables,
    };
    expression.eval(&bindings, &mut Rng::seeded(7))
}

#[test]
fn expressions_see_states_input_context_and_variables() {
    assert_eq!(eval("{% $states.input.a + 1 %}", json!({"a": 2}), json!({})), Ok(json!(3)));
    assert_eq!(eval("{% $states.context.Execution.Name %}", json!({}), json!({})), Ok(json!("e1")));
    assert_eq!(
        eval("{% $x & '-' & $y.z %}", json!({}), json!({"x": "a", "y": {"z": "b"}})),
        Ok(json!("a-b"))
    );
    assert_eq!(eval("{% $sum([1,2,3]) %}", json!(null), json!({})), Ok(json!(6)));
}

#[test]
fn undefined_and_errors_are_told_apart() {
    assert_eq!(
        eval("{% $states.input.missing %}", json!({}), json!({})),
        Err(EvalFailure::Undefined)
    );
    assert!(matches!(eval("{% 1 + 'a' %}", json!({}), json!({})), Err(EvalFailure::Error(_))));
    assert!(Expression::parse("{% 1 + %}").is_err());
    assert!(Expression::parse("1 + 1").is_err());
}

#[test]
fn aws_functions_partition_range_hash_parse_uuid_random() {
    assert_eq!(
        eval("{% $partition([1,2,3,4,5], 2) %}", json!({}), json!({})),
        Ok(json!([[1, 2], [3, 4], [5]]))
    );
    assert_eq!(eval("{% $range(0, 10, 5) %}", json!({}), json!({})), Ok(json!([0, 5, 10])));
    assert_eq!(
        eval("{% $hash('input data', 'SHA-1') %}", json!({}), json!({})),
        Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
    );
    assert_eq!(eval("{% $parse('{\"a\": [1]}').a[0] %}", json!({}), json!({})), Ok(json!(1)));
    let uuid = eval("{% $uuid() %}", json!({}), json!({}));
    assert!(
        matches!(&uuid, Ok(Value::String(s)) if s.len() == 36 && s.as_bytes()[14] == b'4'),
        "{uuid:?}"
    );
    let random = eval("{% $random() %}", json!({}), json!({}));
    assert!(
        matches!(&random, Ok(Value::Number(n)) if n.as_f64().is_some_and(|f| (0.0..1.0).contains(&f)))
    );
    assert_eq!(random, eval("{% $random() %}", json!({}), json!({})), "seeded: reproducible");
    assert!(matches!(eval("{% $eval('1') %}", json!({}), json!({})), Err(EvalFailure::Error(_))));
}

#[test]
fn templates_evaluate_expression_strings_anywhere_and_keep_other_values() {
    let template = Template::parse(&json!({
        "a": "{% $states.input.n * 2 %}", "b": ["x", "{% 'y' %}"], "c": {"d": 1, "e": "plain"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let variables = JsonMap::new();
    let bindings = Bindings { states: json!({"input": {"n": 4}}), variables: &variables };
    assert_eq!(
        template.eval(&bindings, &mut Rng::seeded(1)).ok(),
        Some(json!({"a": 8, "b": ["x", "y"], "c": {"d": 1, "e": "plain"}}))
    );
    assert!(Template::parse(&json!({"a": ["{% ( %}"]})).is_err());
}
