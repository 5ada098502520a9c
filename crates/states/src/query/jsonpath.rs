//! JSONPath behind the [`QueryLanguage`] seam: [`JsonPathLanguage`] applies the parsed paths,
//! payload templates, intrinsic functions and Choice rules of the `jsonpath` module (the
//! language itself, which the definition model holds) in the order the ASL spec gives:
//! `InputPath` → `Parameters` → (the state's work) → `ResultSelector` → `ResultPath` →
//! `OutputPath`.

use serde_json::{Value, json};

use super::{QueryLanguage, Scope};
use crate::asl::{
    Assign, Catcher, Choice, ChoiceBranch, Io, Map, PathField, State, StateKind, StringSource,
};
use crate::error::{StatesError, names};
use crate::jsonata::Expression;
use crate::jsonpath::{JsonPath, PayloadTemplate};

/// The JSONPath query language.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonPathLanguage;

/// `ResultPath`: the result placed into the raw input.
fn result_path(field: &PathField, raw: &Value, result: Value) -> Result<Value, StatesError> {
    match field {
        PathField::Default => Ok(result),
        PathField::Null => Ok(raw.clone()),
        PathField::Path(path) => {
            let mut placed = raw.clone();
            path.set(&mut placed, result)?;
            Ok(placed)
        }
    }
}

/// `OutputPath`: the part of a value that leaves the state.
fn output_path(io: &Io, value: Value, context: &Value) -> Result<Value, StatesError> {
    match &io.output_path {
        PathField::Default => Ok(value),
        PathField::Null => Ok(json!({})),
        PathField::Path(path) => path.select(&value, context),
    }
}

/// A JSONPath `Assign` block rendered against `input` (a state's result, its effective input
/// or a catcher's error output) and recorded in the scope's frame.
fn assign(block: Option<&Assign>, input: &Value, scope: &Scope<'_>) -> Result<(), StatesError> {
    assign_as(block, input, scope, false)
}

/// [`assign`]; `under` keeps what a matched Choice rule assigned.
fn assign_as(
    block: Option<&Assign>,
    input: &Value,
    scope: &Scope<'_>,
    under: bool,
) -> Result<(), StatesError> {
    let values = match block {
        None => return Ok(()),
        Some(Assign::Paths(template)) => {
            scope.with_rng(|rng| template.render(input, &scope.jsonpath_context(), rng))?
        }
        Some(Assign::Expressions(_)) => {
            return Err(StatesError::new(names::RUNTIME, "a JSONata Assign in a JSONPath state"));
        }
    };
    match values {
        Value::Object(values) if under => scope.frame.assign_under(values),
        Value::Object(values) => scope.frame.assign(values),
        _ => Ok(()),
    }
}

impl QueryLanguage for JsonPathLanguage {
    fn effective_input(
        &self,
        state: &State,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        match &state.io.input_path {
            PathField::Default => Ok(raw.clone()),
            PathField::Null => Ok(json!({})),
            PathField::Path(path) => path.select(raw, &scope.jsonpath_context()),
        }
    }

    fn parameters(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        if let StateKind::Pass { result: Some(result) } = &state.kind {
            return Ok(result.clone());
        }
        match &state.io.parameters {
            Some(template) => self.render(template, &effective, scope),
            None => Ok(effective),
        }
    }

    fn state_output(
        &self,
        state: &State,
        raw: &Value,
        result: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let selected = match &state.io.result_selector {
            Some(template) => self.render(template, &result, scope)?,
            None => result,
        };
        assign(state.assign.as_ref(), &selected, scope)?;
        let placed = result_path(&state.io.result_path, raw, selected)?;
        output_path(&state.io, placed, &scope.jsonpath_context())
    }

    fn pass_through(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let choice = matches!(state.kind, StateKind::Choice(_));
        assign_as(state.assign.as_ref(), &effective, scope, choice)?;
        output_path(&state.io, effective, &scope.jsonpath_context())
    }

    fn catcher_output(
        &self,
        catcher: &Catcher,
        raw: &Value,
        error_output: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        assign(catcher.assign.as_ref(), &error_output, scope)?;
        result_path(&catcher.result_path, raw, error_output)
    }

    fn expression(
        &self,
        field: &str,
        expression: &Expression,
        _input: &Value,
        _scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        Err(StatesError::new(
            names::RUNTIME,
            format!(
                "the JSONata expression {} of field '{field}' in a JSONPath state",
                expression.as_str()
            ),
        ))
    }

    fn choose<'c>(
        &self,
        choice: &'c Choice,
        effective: &Value,
        scope: &Scope<'_>,
    ) -> Result<Option<&'c ChoiceBranch>, StatesError> {
        for branch in &choice.choices {
            let Some(rule) = &branch.rule else { continue };
            if rule.eval(effective, &scope.jsonpath_context())? {
                assign(branch.assign.as_ref(), effective, scope)?;
                return Ok(Some(branch));
            }
        }
        Ok(None)
    }

    fn items(&self, map: &Map, effective: &Value, scope: &Scope<'_>) -> Result<Value, StatesError> {
        match &map.items_path {
            Some(path) => path.select(effective, &scope.jsonpath_context()),
            None => Ok(effective.clone()),
        }
    }

    fn item_input(
        &self,
        map: &Map,
        effective: &Value,
        scope: &Scope<'_>,
        index: usize,
        item: &Value,
    ) -> Result<Value, StatesError> {
        match &map.item_selector {
            Some(template) => {
                let item_context = super::item_context(scope.context, index, item);
                self.render(template, effective, &scope.with_context(&item_context))
            }
            None => Ok(item.clone()),
        }
    }

    fn render(
        &self,
        template: &PayloadTemplate,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        scope.with_rng(|rng| template.render(input, &scope.jsonpath_context(), rng))
    }

    fn select(
        &self,
        path: &JsonPath,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        path.select(input, &scope.jsonpath_context())
    }

    fn string(
        &self,
        source: &StringSource,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        match source {
            StringSource::Path(path) => path.select(input, &scope.jsonpath_context()),
            StringSource::Intrinsic(call) => {
                scope.with_rng(|rng| call.eval(input, &scope.jsonpath_context(), rng))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::{Value, json};

    use crate::asl::{StateKind, StateMachine};
    use crate::query::{Scope, language};
    use crate::rng::Rng;

    fn machine(states: Value) -> StateMachine {
        let definition = json!({"StartAt": "S", "States": states});
        match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
            Ok(machine) => machine,
            Err(e) => panic!("test definition is invalid: {e}"),
        }
    }

    #[test]
    fn a_task_applies_input_path_parameters_then_selector_result_path_output_path() {
        let machine = machine(json!({"S": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "InputPath": "$.job",
            "Parameters": {"FunctionName": "f", "Payload": {"id.$": "$.id", "run.$": "$$.Execution.Name"}},
            "ResultSelector": {"value.$": "$.Payload.value"},
            "ResultPath": "$.job.result",
            "OutputPath": "$.job",
            "End": true
        }}));
        let Some(state) = machine.state("S") else { panic!("no state S") };
        let rng = Mutex::new(Rng::seeded(1));
        let context = json!({"Execution": {"Name": "e1"}});
        let frame = crate::query::Frame::default();
        let scope = Scope::new(&context, &rng, &frame);
        let q = language(state);
        let raw = json!({"job": {"id": 7}, "other": 1});
        let effective = q.effective_input(state, &raw, &scope).unwrap_or_default();
        assert_eq!(effective, json!({"id": 7}));
        let parameters = q.parameters(state, effective, &scope).unwrap_or_default();
        assert_eq!(parameters, json!({"FunctionName": "f", "Payload": {"id": 7, "run": "e1"}}));
        let result = json!({"Payload": {"value": 42}, "StatusCode": 200});
        let output = q.state_output(state, &raw, result, &scope).unwrap_or_default();
        assert_eq!(output, json!({"id": 7, "result": {"value": 42}}));
    }

    #[test]
    fn choice_catcher_and_map_items_go_through_the_same_language() {
        let machine = machine(json!({
            "S": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "M"}], "Default": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items",
                  "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "n.$": "$.n"},
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "D"}],
                  "Next": "D"},
            "D": {"Type": "Succeed"}
        }));
        let rng = Mutex::new(Rng::seeded(1));
        let context = json!({});
        let frame = crate::query::Frame::default();
        let scope = Scope::new(&context, &rng, &frame);
        let (Some(choice_state), Some(map_state)) = (machine.state("S"), machine.state("M")) else {
            panic!("states missing")
        };
        let (StateKind::Choice(choice), StateKind::Map(map)) =
            (&choice_state.kind, &map_state.kind)
        else {
            panic!("wrong kinds")
        };
        let q = language(choice_state);
        assert_eq!(
            q.choose(choice, &json!({"n": 2}), &scope).ok().flatten().map(|b| b.next.as_str()),
            Some("M")
        );
        assert_eq!(q.choose(choice, &json!({"n": 0}), &scope).ok().flatten(), None);
        let input = json!({"n": 3, "items": ["a", "b"]});
        assert_eq!(q.items(map, &input, &scope).ok(), Some(json!(["a", "b"])));
        assert_eq!(
            q.item_input(map, &input, &scope, 1, &json!("b")).ok(),
            Some(json!({"i": 1, "v": "b", "n": 3}))
        );
        let catcher = &map.catch[0];
        let caught = q.catcher_output(catcher, &input, json!({"Error": "E", "Cause": "c"}), &scope);
        assert_eq!(
            caught.ok(),
            Some(json!({"n": 3, "items": ["a", "b"], "error": {"Error": "E", "Cause": "c"}}))
        );
    }
}
