//! JSONata as a language: `{% … %}` expressions parsed at load time with `jsonata-core`
//! (chosen against `jsonata-rs` on the JSONata test suite, see docs/jsonata.md), JSON templates
//! whose strings may be expressions, and AWS's added functions (`$partition`, `$range`,
//! `$hash`, `$random`, `$uuid`, `$parse`). `$eval` is disabled as in Step Functions.

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use serde_json::{Map as JsonMap, Value};

use crate::rng::Rng;

#[cfg(test)]
mod tests;

/// One parsed JSONata expression with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    ast: AstNode,
}

/// Whether a string is a JSONata expression: `{%` … `%}`.
pub fn is_expression(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.starts_with("{%") && trimmed.ends_with("%}") && trimmed.len() >= 4
}

/// What an expression sees: `$states` and the workflow variables.
pub struct Bindings<'a> {
    /// `$states` (`input`, `result`, `errorOutput`, `context`).
    pub states: Value,
    /// The workflow variables in scope.
    pub variables: &'a JsonMap<String, Value>,
}

/// Why an expression produced no value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalFailure {
    /// The expression failed (JSONata's message).
    Error(String),
    /// The expression yielded undefined.
    Undefined,
}

impl Expression {
    /// Parses `{% body %}`; the message names what is wrong.
    pub fn parse(text: &str) -> Result<Expression, String> {
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix("{%")
            .and_then(|rest| rest.strip_suffix("%}"))
            .ok_or_else(|| format!("{text:?} is not a JSONata expression ({{% … %}})"))?;
        let ast = jsonata_core::parser::parse(body)
            .map_err(|e| format!("{text:?} is not a valid JSONata expression: {e}"))?;
        Ok(Expression { source: text.to_owned(), ast })
    }

    /// The expression as written, `{% … %}` included.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `$states` and the variables bound (no context value `$`
    /// besides `$states.input`, as in Step Functions where `$` is `$states.input`).
    pub fn eval(&self, bindings: &Bindings<'_>, rng: &mut Rng) -> Result<Value, EvalFailure> {
        let mut context = Context::new();
        for (name, value) in bindings.variables {
            context.bind(name.clone(), JValue::from(value.clone()));
        }
        context.bind("states".to_owned(), JValue::from(bindings.states.clone()));
        let mut evaluator = Evaluator::with_context(context);
        let seeds: Vec<f64> = (0..64).map(|_| rng.next_f64()).collect();
        let uuid = crate::jsonpath::intrinsics::uuid_v4(rng);
        register_aws_functions(&mut evaluator, seeds, uuid)
            .map_err(|e| EvalFailure::Error(e.to_string()))?;
        let input = bindings.states.get("input").cloned().unwrap_or(Value::Null);
        let data = JValue::from(input);
        let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            evaluator.evaluate(&self.ast, &data)
        }));
        match evaluated {
            Err(_) => Err(EvalFailure::Error("the JSONata evaluator panicked".to_owned())),
            Ok(Err(e)) => Err(EvalFailure::Error(e.to_string())),
            Ok(Ok(value)) if value.is_undefined() => Err(EvalFailure::Undefined),
            Ok(Ok(value)) => {
                let text = value.to_json_string().map_err(|e| EvalFailure::Error(e.to_string()))?;
                serde_json::from_str(&text).map_err(|e| EvalFailure::Error(e.to_string()))
            }
        }
    }
}

fn error(message: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(message.into())
}

fn number_arg(args: &[JValue], at: usize, function: &str) -> Result<f64, EvaluatorError> {
    args.get(at)
        .and_then(JValue::as_f64)
        .ok_or_else(|| error(format!("${function}: argument {} must be a number", at + 1)))
}

fn to_json(value: &JValue) -> Result<Value, EvaluatorError> {
    let text = value.to_json_string().map_err(|e| error(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| error(e.to_string()))
}

/// Registers Step Functions' functions; `$random` and `$uuid` draw from the run's seeded
/// generator (pre-drawn, so a run is reproducible), `$eval` is disabled.
fn register_aws_functions(
    evaluator: &mut Evaluator,
    seeds: Vec<f64>,
    uuid: String,
) -> Result<(), EvaluatorError> {
    evaluator.register_fn("partition", |args: &[JValue]| {
        let items = args
            .first()
            .map(to_json)
            .transpose()?
            .and_then(|v| match v {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .ok_or_else(|| error("$partition: argument 1 must be an array"))?;
        let size = number_arg(args, 1, "partition")?;
        if size < 1.0 || size.fract() != 0.0 {
            return Err(error("$partition: the chunk size must be a positive integer"));
        }
        let chunks: Vec<Value> =
            items.chunks(size as usize).map(|chunk| Value::Array(chunk.to_vec())).collect();
        Ok(JValue::from(Value::Array(chunks)))
    })?;
    evaluator.register_fn("range", |args: &[JValue]| {
        let (start, end, step) = (
            number_arg(args, 0, "range")?,
            number_arg(args, 1, "range")?,
            number_arg(args, 2, "range")?,
        );
        if step == 0.0 {
            return Err(error("$range: the step cannot be 0"));
        }
        let mut out = Vec::new();
        let mut at = start;
        while (step > 0.0 && at <= end) || (step < 0.0 && at >= end) {
            if out.len() >= 1000 {
                return Err(error("$range: at most 1000 elements"));
            }
            out.push(serde_json::json!(at));
            at += step;
        }
        Ok(JValue::from(Value::Array(out)))
    })?;
    evaluator.register_fn("hash", |args: &[JValue]| {
        let data = args
            .first()
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| error("$hash: argument 1 must be a string"))?;
        let algorithm = args.get(1).and_then(|v| v.as_str().map(str::to_owned));
        let algorithm = algorithm.as_deref().unwrap_or("SHA-256");
        let hex =
            crate::jsonpath::intrinsics::hash_hex(algorithm, data.as_bytes()).map_err(error)?;
        Ok(JValue::from(Value::String(hex)))
    })?;
    evaluator.register_fn("parse", |args: &[JValue]| {
        let text = args
            .first()
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| error("$parse: argument 1 must be a JSON string"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| error(format!("$parse: {e}")))?;
        Ok(JValue::from(value))
    })?;
    evaluator
        .register_fn("uuid", move |_: &[JValue]| Ok(JValue::from(Value::String(uuid.clone()))))?;
    let next = std::cell::Cell::new(0usize);
    evaluator.register_fn_override("random", move |_: &[JValue]| {
        let at = next.get();
        next.set(at + 1);
        Ok(JValue::from(serde_json::json!(
            seeds.get(at % seeds.len().max(1)).copied().unwrap_or(0.5)
        )))
    })?;
    evaluator.register_fn_override("eval", |_: &[JValue]| {
        Err(error("$eval is not supported by Step Functions; use $parse"))
    })?;
    Ok(())
}

/// A JSON value whose strings may be `{% … %}` expressions (`Arguments`, `Output`, `Assign`,
/// ItemSelector...); other values are literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A literal value.
    Literal(Value),
    /// An expression.
    Expr(Expression),
    /// An object with at least one expression inside.
    Object(Vec<(String, Template)>),
    /// An array with at least one expression inside.
    Array(Vec<Template>),
}

/// Where a template failed: the expression and why.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFailure {
    /// The failing expression's text.
    pub expression: String,
    /// Why.
    pub failure: EvalFailure,
}

impl Template {
    /// Parses every `{% … %}` string of a JSON value.
    pub fn parse(value: &Value) -> Result<Template, String> {
        Ok(match value {
            Value::String(text) if is_expression(text) => Template::Expr(Expression::parse(text)?),
            Value::Object(entries) => {
                let parsed = entries
                    .iter()
                    .map(|(k, v)| Template::parse(v).map(|t| (k.clone(), t)))
                    .collect::<Result<Vec<_>, _>>()?;
                if parsed.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Object(parsed)
                }
            }
            Value::Array(items) => {
                let parsed = items.iter().map(Template::parse).collect::<Result<Vec<_>, _>>()?;
                if parsed.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(parsed)
                }
            }
            other => Template::Literal(other.clone()),
        })
    }

    /// The value of the template.
    pub fn eval(&self, bindings: &Bindings<'_>, rng: &mut Rng) -> Result<Value, TemplateFailure> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Expr(expression) => expression.eval(bindings, rng).map_err(|failure| {
                TemplateFailure { expression: expression.as_str().to_owned(), failure }
            }),
            Template::Object(entries) => {
                let mut out = JsonMap::new();
                for (key, template) in entries {
                    out.insert(key.clone(), template.eval(bindings, rng)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => Ok(Value::Array(
                items.iter().map(|t| t.eval(bindings, rng)).collect::<Result<Vec<_>, _>>()?,
            )),
        }
    }
}
