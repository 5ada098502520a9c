//! JSONata behind the [`QueryLanguage`] seam: [`JsonataLanguage`] evaluates a state's
//! `Arguments`, `Output`, `Assign`, Choice `Condition`s, a Map's `Items` and `ItemSelector` and
//! the expression fields of Wait and Fail with the crate-level `jsonata` module. Expressions see
//! `$states.input`, `$states.result` (Output and Assign of Task, Parallel and Map),
//! `$states.errorOutput` (a catcher), `$states.context` and the workflow variables. `Output`
//! and `Assign` are evaluated on the same values (those at state entry plus the result). A
//! failing or undefined expression is `States.QueryEvaluationError`.

use serde_json::{Value, json};

use super::{QueryLanguage, Scope};
use crate::asl::{Assign, Catcher, Choice, ChoiceBranch, Map, State, StateKind, StringSource};
use crate::error::{StatesError, names};
use crate::jsonata::{Bindings, EvalFailure, Expression, Template, TemplateFailure};
use crate::jsonpath::{JsonPath, PayloadTemplate};

/// The JSONata query language.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonataLanguage;

/// `$states` for an expression.
fn states(
    input: &Value,
    result: Option<&Value>,
    error_output: Option<&Value>,
    scope: &Scope<'_>,
) -> Value {
    let mut states = json!({"input": input, "context": scope.context});
    if let Value::Object(object) = &mut states {
        if let Some(result) = result {
            object.insert("result".into(), result.clone());
        }
        if let Some(error_output) = error_output {
            object.insert("errorOutput".into(), error_output.clone());
        }
    }
    states
}

/// The expression's body as AWS quotes it in causes (without `{%` and `%}`).
fn body(expression: &str) -> &str {
    let trimmed = expression.trim();
    trimmed.strip_prefix("{%").and_then(|rest| rest.strip_suffix("%}")).map_or(trimmed, str::trim)
}

/// `States.QueryEvaluationError` for a failed expression of `field`.
fn query_error(field: &str, expression: &str, failure: &EvalFailure) -> StatesError {
    let what = match failure {
        EvalFailure::Undefined => "returned nothing (undefined)".to_owned(),
        EvalFailure::Error(message) => format!("threw an error during evaluation: {message}"),
    };
    StatesError::new(
        names::QUERY_EVALUATION_ERROR,
        format!(
            "The JSONata expression '{}' specified for the field '{field}' {what}.",
            body(expression)
        ),
    )
}

/// Evaluates a template with `$states` and the scope's variables.
fn eval(
    field: &str,
    template: &Template,
    states: Value,
    scope: &Scope<'_>,
) -> Result<Value, StatesError> {
    let bindings = Bindings { states, variables: scope.frame.visible() };
    scope.with_rng(|rng| template.eval(&bindings, rng)).map_err(
        |TemplateFailure { expression, failure }| query_error(field, &expression, &failure),
    )
}

/// Evaluates a template of `field` on `input` (`$states.input`) with the scope's variables.
pub(crate) fn eval_template(
    field: &str,
    template: &Template,
    input: &Value,
    scope: &Scope<'_>,
) -> Result<Value, StatesError> {
    eval(field, template, states(input, None, None, scope), scope)
}

/// Evaluates one expression with `$states` and the scope's variables.
fn eval_expression(
    field: &str,
    expression: &Expression,
    states: Value,
    scope: &Scope<'_>,
) -> Result<Value, StatesError> {
    let bindings = Bindings { states, variables: scope.frame.visible() };
    scope
        .with_rng(|rng| expression.eval(&bindings, rng))
        .map_err(|failure| query_error(field, expression.as_str(), &failure))
}

/// Evaluates an `Assign` block (`field` names it) and records it in the scope's frame.
fn assign(
    field: &str,
    block: Option<&Assign>,
    states: &Value,
    scope: &Scope<'_>,
) -> Result<(), StatesError> {
    assign_as(field, block, states, scope, false)
}

/// [`assign`]; `under` keeps what a matched Choice rule assigned.
fn assign_as(
    field: &str,
    block: Option<&Assign>,
    states: &Value,
    scope: &Scope<'_>,
    under: bool,
) -> Result<(), StatesError> {
    let Some(block) = block else { return Ok(()) };
    let values = match block {
        Assign::Expressions(template) => eval(field, template, states.clone(), scope)?,
        // A JSONPath block inside a JSONata state cannot be loaded; evaluate it as JSONPath.
        Assign::Paths(template) => {
            let input =
                states.get("result").or_else(|| states.get("input")).cloned().unwrap_or_default();
            scope.with_rng(|rng| template.render(&input, scope.context, rng))?
        }
    };
    match values {
        Value::Object(values) if under => scope.frame.assign_under(values),
        Value::Object(values) => scope.frame.assign(values),
        other => Err(StatesError::new(
            names::QUERY_EVALUATION_ERROR,
            format!("The field '{field}' must evaluate to an object of variables, found {other}"),
        )),
    }
}

/// `Output` (default: `default`) and `Assign` of a state, on the same `$states`.
fn output_and_assign(
    state: &State,
    states: Value,
    default: Value,
    scope: &Scope<'_>,
) -> Result<Value, StatesError> {
    let choice = matches!(state.kind, StateKind::Choice(_));
    assign_as("Assign", state.assign.as_ref(), &states, scope, choice)?;
    match &state.io.output {
        Some(template) => eval("Output", template, states, scope),
        None => Ok(default),
    }
}

impl QueryLanguage for JsonataLanguage {
    fn effective_input(
        &self,
        _state: &State,
        raw: &Value,
        _scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        Ok(raw.clone())
    }

    fn parameters(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        if matches!(state.kind, StateKind::Pass { .. }) {
            return Ok(effective);
        }
        match &state.io.arguments {
            Some(template) => {
                eval("Arguments", template, states(&effective, None, None, scope), scope)
            }
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
        let has_result =
            matches!(state.kind, StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_));
        let states = states(raw, has_result.then_some(&result), None, scope);
        output_and_assign(state, states, result, scope)
    }

    fn pass_through(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let states = states(&effective, None, None, scope);
        output_and_assign(state, states, effective, scope)
    }

    fn catcher_output(
        &self,
        catcher: &Catcher,
        raw: &Value,
        error_output: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let states = states(raw, None, Some(&error_output), scope);
        assign("Assign", catcher.assign.as_ref(), &states, scope)?;
        match &catcher.output {
            Some(template) => eval("Output", template, states, scope),
            None => Ok(error_output),
        }
    }

    fn choose<'c>(
        &self,
        choice: &'c Choice,
        effective: &Value,
        scope: &Scope<'_>,
    ) -> Result<Option<&'c ChoiceBranch>, StatesError> {
        let states = states(effective, None, None, scope);
        for branch in &choice.choices {
            let matched = match (&branch.condition, &branch.rule) {
                (Some(condition), _) => {
                    match eval_expression("Condition", condition, states.clone(), scope)? {
                        Value::Bool(matched) => matched,
                        other => {
                            return Err(StatesError::new(
                                names::QUERY_EVALUATION_ERROR,
                                format!(
                                    "The JSONata expression '{}' specified for the field 'Condition' must return a boolean, found {other}.",
                                    body(condition.as_str())
                                ),
                            ));
                        }
                    }
                }
                (None, Some(rule)) => rule.eval(effective, scope.context)?,
                (None, None) => false,
            };
            if matched {
                assign("Assign", branch.assign.as_ref(), &states, scope)?;
                return Ok(Some(branch));
            }
        }
        Ok(None)
    }

    fn choice_output(
        &self,
        state: &State,
        matched: Option<&ChoiceBranch>,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let Some(template) = matched.and_then(|branch| branch.output.as_ref()) else {
            return self.pass_through(state, effective, scope);
        };
        let states = states(&effective, None, None, scope);
        assign_as("Assign", state.assign.as_ref(), &states, scope, true)?;
        eval("Output", template, states, scope)
    }

    fn items(&self, map: &Map, effective: &Value, scope: &Scope<'_>) -> Result<Value, StatesError> {
        match &map.items {
            Some(template) => {
                let items = eval("Items", template, states(effective, None, None, scope), scope)?;
                match items {
                    Value::Array(_) => Ok(items),
                    other => Err(StatesError::new(
                        names::QUERY_EVALUATION_ERROR,
                        format!("The field 'Items' must evaluate to a JSON array, found {other}"),
                    )),
                }
            }
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
        match &map.jsonata_item_selector {
            Some(template) => {
                let item_context = super::item_context(scope.context, index, item);
                let scope = scope.with_context(&item_context);
                eval("ItemSelector", template, states(effective, None, None, &scope), &scope)
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
        super::jsonpath::JsonPathLanguage.render(template, input, scope)
    }

    fn select(
        &self,
        path: &JsonPath,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        path.select(input, scope.context)
    }

    fn string(
        &self,
        source: &StringSource,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        super::jsonpath::JsonPathLanguage.string(source, input, scope)
    }

    fn expression(
        &self,
        field: &str,
        expression: &Expression,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        eval_expression(field, expression, states(input, None, None, scope), scope)
    }
}
