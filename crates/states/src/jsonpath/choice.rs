//! Choice rules of JSONPath Choice states: parse each rule of `Choices` once when a definition
//! is loaded (every operator, its operand type, `And`/`Or`/`Not` nesting), then evaluate it
//! against the state's effective input and the context object.
//!
//! Sources: the Step Functions developer guide (state-choice.html, "Choice Rules (JSONPath)")
//! and the ASL spec ("Choice Rules"). The caller owns `Next`, `Default` and
//! `States.NoChoiceMatched`; this module only answers "does this rule match?".

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use super::path::{JsonPath, compare_numbers};
use crate::error::{StatesError, names};

/// Guard against stack exhaustion on absurdly nested `And`/`Or`/`Not` built in code.
const MAX_RULE_DEPTH: usize = 100;

/// One Choice rule: a comparison on a `Variable`, or `And`/`Or`/`Not` of nested rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    rule: Rule,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    And(Vec<ChoiceRule>),
    Or(Vec<ChoiceRule>),
    Not(Box<ChoiceRule>),
    Test { variable: JsonPath, test: Test },
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    String(Cmp, Operand<String>),
    Numeric(Cmp, Operand<Number>),
    Boolean(Operand<bool>),
    Timestamp(Cmp, Operand<DateTime<FixedOffset>>),
    Matches(Vec<PatternToken>),
    Is(TypeTest, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand<T> {
    Value(T),
    Path(JsonPath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternToken {
    Star,
    Char(char),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// Comparison operators: `<Family><Cmp>` plus, for each, a `...Path` variant.
const COMPARISONS: [(&str, Family, Cmp); 16] = [
    ("StringEquals", Family::String, Cmp::Equals),
    ("StringLessThan", Family::String, Cmp::LessThan),
    ("StringGreaterThan", Family::String, Cmp::GreaterThan),
    ("StringLessThanEquals", Family::String, Cmp::LessThanEquals),
    ("StringGreaterThanEquals", Family::String, Cmp::GreaterThanEquals),
    ("NumericEquals", Family::Numeric, Cmp::Equals),
    ("NumericLessThan", Family::Numeric, Cmp::LessThan),
    ("NumericGreaterThan", Family::Numeric, Cmp::GreaterThan),
    ("NumericLessThanEquals", Family::Numeric, Cmp::LessThanEquals),
    ("NumericGreaterThanEquals", Family::Numeric, Cmp::GreaterThanEquals),
    ("BooleanEquals", Family::Boolean, Cmp::Equals),
    ("TimestampEquals", Family::Timestamp, Cmp::Equals),
    ("TimestampLessThan", Family::Timestamp, Cmp::LessThan),
    ("TimestampGreaterThan", Family::Timestamp, Cmp::GreaterThan),
    ("TimestampLessThanEquals", Family::Timestamp, Cmp::LessThanEquals),
    ("TimestampGreaterThanEquals", Family::Timestamp, Cmp::GreaterThanEquals),
];

/// Type tests; their operand is a boolean (`"IsNull": false` negates) and they have no Path
/// variant.
const TYPE_TESTS: [(&str, TypeTest); 6] = [
    ("IsNull", TypeTest::Null),
    ("IsPresent", TypeTest::Present),
    ("IsNumeric", TypeTest::Numeric),
    ("IsString", TypeTest::String),
    ("IsBoolean", TypeTest::Boolean),
    ("IsTimestamp", TypeTest::Timestamp),
];

/// What an operator key turns into, before its operand is read.
enum OperatorKind {
    Comparison(Family, Cmp, bool),
    Matches,
    TypeTest(TypeTest),
    And,
    Or,
    Not,
}

fn operator_kind(key: &str) -> Option<OperatorKind> {
    match key {
        "And" => return Some(OperatorKind::And),
        "Or" => return Some(OperatorKind::Or),
        "Not" => return Some(OperatorKind::Not),
        "StringMatches" => return Some(OperatorKind::Matches),
        _ => {}
    }
    if let Some((_, test)) = TYPE_TESTS.iter().find(|(name, _)| *name == key) {
        return Some(OperatorKind::TypeTest(*test));
    }
    let (base, is_path) = match key.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (key, false),
    };
    COMPARISONS
        .iter()
        .find(|(name, _, _)| *name == base)
        .map(|(_, family, cmp)| OperatorKind::Comparison(*family, *cmp, is_path))
}

fn field(at: &str, name: &str) -> String {
    if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") }
}

impl ChoiceRule {
    /// Parses one rule object; `Next` is allowed (and ignored: the caller reads it) only when
    /// `top_level`.
    ///
    /// Unknown fields, missing or multiple operators, a missing `Variable` and operands of the
    /// wrong type are rejected with the field named relative to this rule, e.g.
    /// `And[1].NumericEquals: expected a number, got "1"`.
    pub fn parse(rule: &Value, top_level: bool) -> Result<ChoiceRule, String> {
        parse_rule(rule, top_level, "", 0)
    }

    /// Whether the rule matches. A comparison on a Variable of the wrong type is false; a
    /// Variable (or `...Path` operand) that selects nothing is a `States.Runtime` error, except
    /// for `IsPresent`, which is then simply false.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, StatesError> {
        match &self.rule {
            // Short-circuit: the developer guide's `And` of `IsPresent` then `StringEquals`
            // relies on the second rule not running when the first is false.
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, context)?),
            Rule::Test { variable, test } => {
                let value = variable.matches(input, context).into_iter().next();
                match (test, value) {
                    (Test::Is(TypeTest::Present, expected), found) => {
                        Ok(found.is_some() == *expected)
                    }
                    (_, None) => Err(invalid_path(variable)),
                    (test, Some(value)) => test.eval(value, input, context),
                }
            }
        }
    }
}

/// AWS's error for a Choice path that selects nothing (States.Runtime, as recorded on the
/// service: "Invalid path '$.x': The choice state's condition path references an invalid
/// value.").
fn invalid_path(path: &JsonPath) -> StatesError {
    StatesError::new(
        names::RUNTIME,
        format!(
            "Invalid path '{}': The choice state's condition path references an invalid value.",
            path.as_str()
        ),
    )
}

impl Test {
    fn eval(&self, value: &Value, input: &Value, context: &Value) -> Result<bool, StatesError> {
        Ok(match self {
            Test::String(cmp, operand) => {
                let Some(operand) =
                    resolve(operand, input, context, |v| v.as_str().map(str::to_owned))?
                else {
                    return Ok(false);
                };
                match value.as_str() {
                    // "To understand the behavior of string comparisons, see the Java compareTo
                    // documentation" (developer guide): compareTo orders UTF-16 code units.
                    Some(text) => cmp.holds(text.encode_utf16().cmp(operand.encode_utf16())),
                    None => false,
                }
            }
            Test::Numeric(cmp, operand) => {
                let Some(operand) = resolve(operand, input, context, |v| v.as_number().cloned())?
                else {
                    return Ok(false);
                };
                match value.as_number().and_then(|number| compare_numbers(number, &operand)) {
                    Some(ordering) => cmp.holds(ordering),
                    None => false,
                }
            }
            Test::Boolean(operand) => {
                let Some(operand) = resolve(operand, input, context, Value::as_bool)? else {
                    return Ok(false);
                };
                value.as_bool() == Some(operand)
            }
            Test::Timestamp(cmp, operand) => {
                let Some(operand) =
                    resolve(operand, input, context, |v| v.as_str().and_then(parse_timestamp))?
                else {
                    return Ok(false);
                };
                match value.as_str().and_then(parse_timestamp) {
                    Some(stamp) => cmp.holds(stamp.cmp(&operand)),
                    None => false,
                }
            }
            Test::Matches(pattern) => match value.as_str() {
                Some(text) => wildcard_match(pattern, &text.chars().collect::<Vec<_>>()),
                None => false,
            },
            Test::Is(test, expected) => {
                let is = match test {
                    TypeTest::Null => value.is_null(),
                    TypeTest::Present => true,
                    TypeTest::Numeric => value.is_number(),
                    TypeTest::String => value.is_string(),
                    TypeTest::Boolean => value.is_boolean(),
                    TypeTest::Timestamp => value.as_str().and_then(parse_timestamp).is_some(),
                };
                is == *expected
            }
        })
    }
}

/// The operand's value: the literal, or the `...Path` operand's value converted with
/// `convert` (`None` when it has the wrong type, which makes the comparison false).
fn resolve<T: Clone>(
    operand: &Operand<T>,
    input: &Value,
    context: &Value,
    convert: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, StatesError> {
    match operand {
        Operand::Value(value) => Ok(Some(value.clone())),
        Operand::Path(path) => match path.matches(input, context).into_iter().next() {
            Some(value) => Ok(convert(value)),
            None => Err(invalid_path(path)),
        },
    }
}

impl Cmp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Equals => ordering == Ordering::Equal,
            Cmp::LessThan => ordering == Ordering::Less,
            Cmp::GreaterThan => ordering == Ordering::Greater,
            Cmp::LessThanEquals => ordering != Ordering::Greater,
            Cmp::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// Timestamps "must conform to RFC3339 profile ISO 8601, with further restrictions: an
/// uppercase T must separate the date and time portions; an uppercase Z must denote that a
/// numeric time zone offset isn't present" (developer guide, Choice rules). Compared as
/// instants, so offsets are honoured.
fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// StringMatches patterns: "*" matches zero or more characters, `\*` is a literal star and
/// `\\` a literal backslash; no other character is special (ASL spec, "Choice Rules").
fn parse_pattern(pattern: &str) -> Result<Vec<PatternToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => tokens.push(PatternToken::Star),
            '\\' => match chars.next() {
                Some(escaped @ ('*' | '\\')) => tokens.push(PatternToken::Char(escaped)),
                Some(other) => {
                    return Err(format!(
                        "invalid escape '\\{other}' (only \\* and \\\\ are allowed)"
                    ));
                }
                None => return Err("the pattern ends with an unescaped '\\'".to_owned()),
            },
            other => tokens.push(PatternToken::Char(other)),
        }
    }
    Ok(tokens)
}

/// Glob matching with `*` only, in O(pattern × text) worst case and no recursion.
fn wildcard_match(pattern: &[PatternToken], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(PatternToken::Star), _) => {
                backtrack = Some((p, t));
                p += 1;
            }
            (Some(PatternToken::Char(expected)), Some(actual)) if expected == actual => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).unwrap_or_default().iter().all(|token| *token == PatternToken::Star)
}

fn parse_rule(rule: &Value, top_level: bool, at: &str, depth: usize) -> Result<ChoiceRule, String> {
    let here = if at.is_empty() { "Choice rule" } else { at };
    if depth > MAX_RULE_DEPTH {
        return Err(format!("{here}: rules are nested more than {MAX_RULE_DEPTH} levels deep"));
    }
    let Value::Object(map) = rule else {
        return Err(format!("{here}: a Choice rule must be an object, got {rule}"));
    };
    let mut variable = None;
    let mut operators: Vec<(&str, OperatorKind, &Value)> = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            "Variable" => variable = Some(value),
            // Read by the caller on top-level rules. "The values of the And and Or operators
            // must be non-empty arrays of Choice Rules that must not themselves contain Next
            // fields" (developer guide, Choice rules).
            "Next" if top_level => {}
            "Next" => {
                return Err(format!(
                    "{}: only top-level Choice rules have Next",
                    field(at, "Next")
                ));
            }
            "Comment" if value.is_string() => {}
            "Comment" => return Err(format!("{}: must be a string", field(at, "Comment"))),
            "Assign" => {
                return Err(format!(
                    "{}: workflow variables are not supported",
                    field(at, "Assign")
                ));
            }
            "Condition" | "Output" => {
                return Err(format!(
                    "{}: JSONata Choice rules are not supported (JSONPath only)",
                    field(at, key)
                ));
            }
            "StringMatchesPath" => {
                return Err(format!("{}: StringMatches has no Path variant", field(at, key)));
            }
            other => match operator_kind(other) {
                Some(kind) => operators.push((other, kind, value)),
                None => {
                    return Err(format!("{}: unknown field in a Choice rule", field(at, other)));
                }
            },
        }
    }
    let (name, kind, operand) = match operators.len() {
        1 => operators.remove(0),
        0 => {
            return Err(format!(
                "{here}: no comparison operator (e.g. StringEquals, NumericLessThan, IsPresent) \
                 or And/Or/Not"
            ));
        }
        _ => {
            let listed: Vec<&str> = operators.iter().map(|(name, _, _)| *name).collect();
            return Err(format!(
                "{here}: a rule has exactly one operator, found {}",
                listed.join(", ")
            ));
        }
    };
    let operator_field = field(at, name);
    let nested = |index: Option<usize>, value: &Value| {
        let nested_at = match index {
            Some(i) => format!("{operator_field}[{i}]"),
            None => operator_field.clone(),
        };
        parse_rule(value, false, &nested_at, depth + 1)
    };
    let logical = |kind: &OperatorKind| -> Result<Option<Rule>, String> {
        Ok(Some(match kind {
            OperatorKind::And | OperatorKind::Or => {
                let Some(items) = operand.as_array().filter(|items| !items.is_empty()) else {
                    return Err(format!(
                        "{operator_field}: must be a non-empty array of Choice rules"
                    ));
                };
                let rules = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| nested(Some(i), item))
                    .collect::<Result<_, _>>()?;
                if matches!(kind, OperatorKind::And) { Rule::And(rules) } else { Rule::Or(rules) }
            }
            OperatorKind::Not => {
                if !operand.is_object() {
                    return Err(format!("{operator_field}: must be a single Choice rule object"));
                }
                Rule::Not(Box::new(nested(None, operand)?))
            }
            _ => return Ok(None),
        }))
    };
    if let Some(rule) = logical(&kind)? {
        if variable.is_some() {
            return Err(format!("{}: not allowed with {name}", field(at, "Variable")));
        }
        return Ok(ChoiceRule { rule });
    }
    let variable_field = field(at, "Variable");
    let Some(variable) = variable else {
        return Err(format!("{variable_field}: missing (required with {name})"));
    };
    let variable = reference_path(variable, &variable_field)?;
    let test = match kind {
        OperatorKind::Comparison(family, cmp, true) => {
            let path = reference_path(operand, &operator_field)?;
            match family {
                Family::String => Test::String(cmp, Operand::Path(path)),
                Family::Numeric => Test::Numeric(cmp, Operand::Path(path)),
                Family::Boolean => Test::Boolean(Operand::Path(path)),
                Family::Timestamp => Test::Timestamp(cmp, Operand::Path(path)),
            }
        }
        OperatorKind::Comparison(family, cmp, false) => {
            let wrong =
                |wanted: &str| format!("{operator_field}: expected {wanted}, got {operand}");
            match family {
                Family::String => {
                    let text = operand.as_str().ok_or_else(|| wrong("a string"))?;
                    Test::String(cmp, Operand::Value(text.to_owned()))
                }
                Family::Numeric => {
                    let number = operand.as_number().ok_or_else(|| wrong("a number"))?;
                    Test::Numeric(cmp, Operand::Value(number.clone()))
                }
                Family::Boolean => {
                    let flag = operand.as_bool().ok_or_else(|| wrong("a boolean"))?;
                    Test::Boolean(Operand::Value(flag))
                }
                Family::Timestamp => {
                    let stamp = operand.as_str().and_then(parse_timestamp).ok_or_else(|| {
                        wrong("an RFC 3339 timestamp such as \"2016-08-18T17:33:00Z\"")
                    })?;
                    Test::Timestamp(cmp, Operand::Value(stamp))
                }
            }
        }
        OperatorKind::Matches => {
            let pattern = operand
                .as_str()
                .ok_or_else(|| format!("{operator_field}: expected a string, got {operand}"))?;
            Test::Matches(
                parse_pattern(pattern).map_err(|message| format!("{operator_field}: {message}"))?,
            )
        }
        OperatorKind::TypeTest(test) => {
            let expected = operand.as_bool().ok_or_else(|| {
                format!("{operator_field}: expected true or false, got {operand}")
            })?;
            Test::Is(test, expected)
        }
        OperatorKind::And | OperatorKind::Or | OperatorKind::Not => {
            return Err(format!("{operator_field}: internal error: logical operator not handled"));
        }
    };
    Ok(ChoiceRule { rule: Rule::Test { variable, test } })
}

/// "The values of Variable and Path fields in a comparison must be valid Reference Paths"
/// (developer guide, Choice rules); `$$` context paths are accepted too.
fn reference_path(value: &Value, at: &str) -> Result<JsonPath, String> {
    let text =
        value.as_str().ok_or_else(|| format!("{at}: expected a path string, got {value}"))?;
    let path = JsonPath::parse(text).map_err(|message| format!("{at}: invalid path {message}"))?;
    if !path.is_reference() {
        return Err(format!(
            "{at}: '{text}' is not a reference path (only .name, ['name'] and [index] steps; \
             no wildcards, slices, filters or '..')"
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn rule(value: Value) -> ChoiceRule {
        match ChoiceRule::parse(&value, true) {
            Ok(parsed) => parsed,
            Err(message) => panic!("{value}: {message}"),
        }
    }

    fn eval(value: Value, input: &Value) -> Result<bool, StatesError> {
        rule(value).eval(input, &json!({"Execution": {"Name": "run-1"}}))
    }

    #[test]
    fn developer_guide_choice_example() {
        // state-choice.html: input {"type": "Private", "value": 22} goes to ValueInTwenties.
        let input = json!({"type": "Private", "value": 22});
        let rules = [
            (
                json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"}),
                false,
            ),
            (json!({"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"}), false),
            (
                json!({"And": [
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30}
                ], "Next": "ValueInTwenties"}),
                true,
            ),
        ];
        for (value, expected) in rules {
            assert_eq!(eval(value.clone(), &input), Ok(expected), "{value}");
        }
    }

    #[test]
    fn comparison_operators() {
        let input = json!({
            "s": "MyString", "n": 22, "f": 1.0, "b": true, "t": "2001-01-01T12:00:00Z",
            "s2": "MyStringABC", "n2": 30, "b2": true, "t2": "2001-01-01T13:00:00+01:00",
            "t3": "2001-01-02T00:00:00.5Z", "z": null, "big": 9007199254740993_u64
        });
        let cases = [
            (json!({"Variable": "$.s", "StringEquals": "MyString"}), true),
            (json!({"Variable": "$.s", "StringEquals": "mystring"}), false),
            (json!({"Variable": "$.s2", "StringGreaterThan": "MyString"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "MyStringABC"}), true),
            (json!({"Variable": "$.s", "StringLessThanEquals": "MyString"}), true),
            (json!({"Variable": "$.s", "StringGreaterThanEquals": "MyStringZ"}), false),
            (json!({"Variable": "$.s", "StringEqualsPath": "$.s2"}), false),
            (json!({"Variable": "$.s", "StringLessThanPath": "$.s2"}), true),
            (json!({"Variable": "$.n", "NumericEquals": 22}), true),
            (json!({"Variable": "$.n", "NumericEquals": 22.0}), true),
            (json!({"Variable": "$.f", "NumericEquals": 1}), true),
            (json!({"Variable": "$.n", "NumericLessThan": 22.5}), true),
            (json!({"Variable": "$.n", "NumericGreaterThan": -1}), true),
            (json!({"Variable": "$.n", "NumericLessThanEquals": 21}), false),
            (json!({"Variable": "$.n", "NumericGreaterThanEquals": 22}), true),
            (json!({"Variable": "$.n", "NumericLessThanPath": "$.n2"}), true),
            (json!({"Variable": "$.n", "NumericEqualsPath": "$.s"}), false),
            (json!({"Variable": "$.big", "NumericGreaterThan": 9007199254740992_u64}), true),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (json!({"Variable": "$.b", "BooleanEquals": false}), false),
            (json!({"Variable": "$.b", "BooleanEqualsPath": "$.b2"}), true),
            // state-choice.html: TimestampEquals "2001-01-01T12:00:00Z".
            (json!({"Variable": "$.t", "TimestampEquals": "2001-01-01T12:00:00Z"}), true),
            (json!({"Variable": "$.t", "TimestampEqualsPath": "$.t2"}), true),
            (json!({"Variable": "$.t", "TimestampLessThan": "2001-01-01T12:00:00.001Z"}), true),
            (json!({"Variable": "$.t3", "TimestampGreaterThan": "2001-01-02T00:00:00Z"}), true),
            (json!({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t3"}), true),
            (
                json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2001-01-01T12:00:00Z"}),
                true,
            ),
            (json!({"Variable": "$.t", "StringEquals": "2001-01-01T12:00:00Z"}), true),
            // A Variable of the wrong type never matches (no conversion is attempted).
            (json!({"Variable": "$.s", "NumericEquals": 22}), false),
            (json!({"Variable": "$.n", "StringEquals": "22"}), false),
            (json!({"Variable": "$.s", "TimestampEquals": "2001-01-01T12:00:00Z"}), false),
            (json!({"Variable": "$.z", "BooleanEquals": false}), false),
            (json!({"Variable": "$.z", "IsNull": true}), true),
            (json!({"Variable": "$.s", "IsNull": false}), true),
            (json!({"Variable": "$.n", "IsNumeric": true}), true),
            (json!({"Variable": "$.s", "IsNumeric": true}), false),
            (json!({"Variable": "$.s", "IsString": true}), true),
            (json!({"Variable": "$.b", "IsBoolean": true}), true),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsTimestamp": false}), true),
            (json!({"Variable": "$.s", "IsPresent": true}), true),
            (json!({"Variable": "$.nope", "IsPresent": false}), true),
            (json!({"Variable": "$.nope", "IsPresent": true}), false),
            (json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}), true),
            (
                json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.b", "BooleanEquals": true}]}),
                true,
            ),
            (json!({"Not": {"Variable": "$.b", "BooleanEquals": true}}), false),
        ];
        for (value, expected) in cases {
            assert_eq!(eval(value.clone(), &input), Ok(expected), "{value}");
        }
    }

    #[test]
    fn timestamps_need_uppercase_t_and_z() {
        let cases = [
            ("2016-08-18T17:33:00Z", true),
            ("2016-08-18T17:33:00.123+02:00", true),
            ("2016-08-18t17:33:00Z", false),
            ("2016-08-18T17:33:00z", false),
            ("2016-08-18 17:33:00Z", false),
            ("2016-08-18T17:33:00", false),
            ("2016-08-18", false),
            ("", false),
        ];
        for (text, valid) in cases {
            assert_eq!(
                eval(json!({"Variable": "$.t", "IsTimestamp": true}), &json!({"t": text})),
                Ok(valid),
                "{text}"
            );
        }
    }

    #[test]
    fn string_order_is_utf16_like_java() {
        // U+1F600 is a surrogate pair (0xD83D ...) and sorts before U+FF61 in UTF-16, although
        // it is the larger code point.
        let input = json!({"emoji": "\u{1F600}"});
        assert_eq!(
            eval(json!({"Variable": "$.emoji", "StringLessThan": "\u{FF61}"}), &input),
            Ok(true)
        );
    }

    #[test]
    fn string_matches() {
        let cases = [
            // ASL spec, "Choice Rules": foo*.log, *.log and foo*.* examples.
            ("foo*.log", "foo23.log", true),
            ("*.log", "zebra.log", true),
            ("foo*.*", "foobar.zebra", true),
            // state-choice.html: "log-*.txt".
            ("log-*.txt", "log-2024-01-01.txt", true),
            ("log-*.txt", "log-.txt", true),
            ("log-*.txt", "log.txt", false),
            ("log-\\*.txt", "log-*.txt", true),
            ("log-\\*.txt", "log-1.txt", false),
            ("a\\\\b", "a\\b", true),
            ("*", "", true),
            ("**a**", "bab", true),
            ("a*b*c", "abcbc", true),
            ("a*b*c", "acb", false),
            ("?", "x", false),
            ("x.y", "xzy", false),
        ];
        for (pattern, text, expected) in cases {
            let value = json!({"Variable": "$.v", "StringMatches": pattern});
            assert_eq!(eval(value, &json!({"v": text})), Ok(expected), "{pattern} vs {text}");
        }
        assert_eq!(
            eval(json!({"Variable": "$.v", "StringMatches": "*"}), &json!({"v": 1})),
            Ok(false)
        );
    }

    #[test]
    fn is_present_guards_a_missing_field() {
        // state-choice.html: StringEquals only runs when IsPresent is true.
        let guarded = json!({"And": [
            {"Variable": "$.keyThatMightNotExist", "IsPresent": true},
            {"Variable": "$.keyThatMightNotExist", "StringEquals": "foo"}
        ]});
        assert_eq!(eval(guarded.clone(), &json!({})), Ok(false));
        assert_eq!(eval(guarded, &json!({"keyThatMightNotExist": "foo"})), Ok(true));
    }

    #[test]
    fn missing_paths_are_runtime_errors() {
        let cases = [
            (json!({"Variable": "$.type", "StringEquals": "Private"}), "$.type"),
            (json!({"Variable": "$.a", "IsNull": true}), "$.a"),
            (json!({"Variable": "$.left", "NumericEqualsPath": "$.right"}), "$.right"),
            (json!({"Not": {"Variable": "$.x.y", "BooleanEquals": true}}), "$.x.y"),
        ];
        for (value, missing) in cases {
            assert_eq!(
                eval(value.clone(), &json!({"left": 8, "x": 1})),
                Err(StatesError::new(
                    "States.Runtime",
                    format!(
                        "Invalid path '{missing}': The choice state's condition path references an invalid value."
                    )
                )),
                "{value}"
            );
        }
    }

    #[test]
    fn parse_errors_name_the_field() {
        let cases = [
            (
                json!({"Variable": "$.a", "NumericEquals": "1"}),
                true,
                "NumericEquals: expected a number, got \"1\"",
            ),
            (
                json!({"Variable": "$.a", "StringEquals": 1}),
                true,
                "StringEquals: expected a string",
            ),
            (
                json!({"Variable": "$.a", "BooleanEquals": "true"}),
                true,
                "BooleanEquals: expected a boolean",
            ),
            (
                json!({"Variable": "$.a", "TimestampEquals": "2001-01-01"}),
                true,
                "TimestampEquals: expected an RFC 3339",
            ),
            (json!({"Variable": "$.a", "IsNull": 1}), true, "IsNull: expected true or false"),
            (
                json!({"Variable": "$.a", "StringMatches": "a\\b"}),
                true,
                "StringMatches: invalid escape '\\b'",
            ),
            (
                json!({"Variable": "$.a", "StringMatchesPath": "$.b"}),
                true,
                "StringMatchesPath: StringMatches has no Path",
            ),
            (
                json!({"Variable": "$.a", "NumericEqualsPath": 3}),
                true,
                "NumericEqualsPath: expected a path string",
            ),
            (
                json!({"Variable": "$.a", "NumericEqualsPath": "$.b[*]"}),
                true,
                "NumericEqualsPath: '$.b[*]' is not a reference path",
            ),
            (
                json!({"Variable": "$.a[?(@.x)]", "IsPresent": true}),
                true,
                "Variable: '$.a[?(@.x)]' is not a reference path",
            ),
            (json!({"Variable": "a", "IsPresent": true}), true, "Variable: invalid path"),
            (json!({"NumericEquals": 1}), true, "Variable: missing (required with NumericEquals)"),
            (json!({"Variable": "$.a"}), true, "Choice rule: no comparison operator"),
            (
                json!({"Variable": "$.a", "NumericEquals": 1, "StringEquals": "x"}),
                true,
                "Choice rule: a rule has exactly one operator, found NumericEquals, StringEquals",
            ),
            (
                json!({"Variable": "$.a", "NumericEquals": 1, "Foo": 2}),
                true,
                "Foo: unknown field in a Choice rule",
            ),
            (
                json!({"Variable": "$.a", "NumericEquals": 1, "Next": "X"}),
                false,
                "Next: only top-level Choice rules have Next",
            ),
            (
                json!({"And": [{"Variable": "$.a", "NumericEquals": 1, "Next": "X"}], "Next": "Y"}),
                true,
                "And[0].Next: only top-level",
            ),
            (
                json!({"And": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.a", "NumericEquals": "x"}]}),
                true,
                "And[1].NumericEquals: expected a number",
            ),
            (
                json!({"Or": [{"Not": {"Variable": "$.a", "Nope": 1}}]}),
                true,
                "Or[0].Not.Nope: unknown field",
            ),
            (json!({"And": []}), true, "And: must be a non-empty array"),
            (json!({"Or": {}}), true, "Or: must be a non-empty array"),
            (json!({"Not": []}), true, "Not: must be a single Choice rule object"),
            (
                json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a"}),
                true,
                "Variable: not allowed with Not",
            ),
            (
                json!({"Variable": "$.a", "IsNull": true, "Assign": {}}),
                true,
                "Assign: workflow variables are not supported",
            ),
            (
                json!({"Condition": "{% true %}", "Next": "X"}),
                true,
                "Condition: JSONata Choice rules are not supported",
            ),
            (
                json!({"Variable": "$.a", "IsNull": true, "Comment": 3}),
                true,
                "Comment: must be a string",
            ),
            (json!("rule"), true, "Choice rule: a Choice rule must be an object"),
        ];
        for (value, top_level, needle) in cases {
            match ChoiceRule::parse(&value, top_level) {
                Ok(parsed) => panic!("{value} parsed as {parsed:?}"),
                Err(message) => assert!(message.starts_with(needle), "{value}: {message}"),
            }
        }
    }

    #[test]
    fn next_and_comment_are_accepted_on_top_level_rules() {
        let value = json!({"Variable": "$.a", "IsNull": true, "Next": "X", "Comment": "why"});
        assert!(ChoiceRule::parse(&value, true).is_ok());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let mut value = json!({"Variable": "$.a", "IsPresent": true});
        for _ in 0..(MAX_RULE_DEPTH + 5) {
            value = json!({"Not": value});
        }
        let message = ChoiceRule::parse(&value, true).err().unwrap_or_default();
        assert!(message.contains("nested more than"), "{message}");
    }

    fn arbitrary_rule() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "Variable",
            "Next",
            "StringEquals",
            "StringMatches",
            "NumericLessThan",
            "NumericEqualsPath",
            "BooleanEquals",
            "TimestampGreaterThan",
            "TimestampEqualsPath",
            "IsPresent",
            "IsNull",
            "And",
            "Or",
            "Not",
            "Comment",
            "Foo",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "(\\$\\.[a-c]|\\$\\$\\.[a-c]|[a-c*\\\\]{0,4}|2001-01-0[12]T12:00:00Z)"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..4).prop_map(|fields| {
                    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_and_eval_never_panic(value in arbitrary_rule(), top_level in any::<bool>()) {
            if let Ok(parsed) = ChoiceRule::parse(&value, top_level) {
                let inputs = [json!({"a": 1, "b": "x", "c": "2001-01-01T12:00:00Z"}), json!(null), json!([1])];
                for input in &inputs {
                    let _ = parsed.eval(input, input);
                }
            }
        }

        #[test]
        fn matches_never_panics(pattern in "[a-c*\\\\]{0,8}", text in "[a-c*\\\\]{0,8}") {
            if let Ok(tokens) = parse_pattern(&pattern) {
                let _ = wildcard_match(&tokens, &text.chars().collect::<Vec<_>>());
            }
        }
    }
}
