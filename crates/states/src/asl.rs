//! The typed Amazon States Language model and its loader.
//!
//! [`StateMachine::from_json`] parses a definition written in JSONPath or JSONata (each state
//! records its [`Language`]; JSONata expressions are parsed here), validates it the way Step Functions does when a state machine is created (field types and
//! ranges, which fields each state type allows, `Next` targets inside their own scope, reachable
//! states, a terminal state, unique state names), and rejects everything graphetl's local runner
//! does not implement: `Credentials`, other service integrations,
//! `.waitForTaskToken`, ResultWriter `WriterConfig`, ItemReader transformations and so on.
//! Every problem names the state (as a path for nested states) and the field; nothing is ignored
//! silently.
//!
//! This module owns the shape of a definition only. It does not evaluate paths, payload templates,
//! intrinsic functions, Choice rules or JSONata expressions (`jsonpath` and `jsonata` do, behind
//! `query::jsonpath` and `query::jsonata`), and it runs nothing.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::jsonata::{Expression, Template};
use crate::jsonpath::{ChoiceRule, Intrinsic, JsonPath, PayloadTemplate};

mod json;
mod parse;

pub(crate) use parse::parse_timestamp;
#[cfg(test)]
mod tests;

/// A parsed and validated state machine: the whole definition, a Parallel branch or a Map's
/// `ItemProcessor`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    /// The `Comment` field.
    pub comment: Option<String>,
    /// The `StartAt` field; always names one of [`StateMachine::states`].
    pub start_at: String,
    /// The states, in the order the definition lists them.
    pub states: Vec<State>,
    /// The top-level `TimeoutSeconds`; always `None` for branches and item processors.
    pub timeout_seconds: Option<u64>,
    /// Position of each state in `states`, by name.
    index: HashMap<String, usize>,
}

impl StateMachine {
    /// Parses and validates a definition given as JSON text; `origin` (a file name, say) names
    /// it in errors.
    ///
    /// Duplicate keys in any JSON object are rejected, since one of the two values would
    /// otherwise be dropped silently.
    pub fn from_json(text: &str, origin: &str) -> Result<StateMachine, AslError> {
        match serde_json::from_str::<json::Node>(text) {
            Ok(node) => parse::definition(&node, origin),
            Err(err) => Err(AslError {
                origin: origin.to_owned(),
                problems: vec![Problem {
                    state: None,
                    field: "(json)".to_owned(),
                    message: format!("not a valid JSON definition: {err}"),
                }],
            }),
        }
    }

    /// Parses and validates a definition already parsed into a `serde_json::Value`; `origin`
    /// names it in errors.
    ///
    /// The states keep the order of the value's objects (sorted by name unless serde_json's
    /// `preserve_order` feature is on); use [`StateMachine::from_json`] to keep the file order.
    pub fn from_value(value: &Value, origin: &str) -> Result<StateMachine, AslError> {
        parse::definition(&json::Node::from_value(value), origin)
    }

    /// The state with this name in this machine's own scope (not in nested branches or
    /// processors).
    pub fn state(&self, name: &str) -> Option<&State> {
        self.index.get(name).and_then(|&position| self.states.get(position))
    }

    /// The `StartAt` state.
    pub fn start(&self) -> Option<&State> {
        self.state(&self.start_at)
    }

    /// Builds a machine and its name index; `states` must have unique names.
    fn new(
        comment: Option<String>,
        start_at: String,
        states: Vec<State>,
        timeout_seconds: Option<u64>,
    ) -> StateMachine {
        let index = states
            .iter()
            .enumerate()
            .map(|(position, state)| (state.name.clone(), position))
            .collect();
        StateMachine { comment, start_at, states, timeout_seconds, index }
    }
}

/// Every `${Name}` placeholder used anywhere in a definition's text, for checking them against
/// the template's `DefinitionSubstitutions`.
///
/// A name is one or more ASCII letters, digits, `_`, `-`, `.` or `:`; anything else between
/// `${` and `}` is not a placeholder.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_placeholder_name(&after[..end]) => {
                found.insert(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            Some(_) => rest = after,
            None => break,
        }
    }
    found
}

/// Whether `name` may sit between `${` and `}`.
fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// One state of a machine.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The state's name (its key in `States`).
    pub name: String,
    /// The `Comment` field.
    pub comment: Option<String>,
    /// What the state does, with its type-specific fields.
    pub kind: StateKind,
    /// Input and output processing. Fields the state type does not allow are rejected at load,
    /// so they keep their defaults here.
    pub io: Io,
    /// Where the state goes when it completes normally.
    pub transition: Transition,
    /// The state's query language: its own `QueryLanguage`, else the definition's.
    pub language: Language,
    /// `Assign`: the workflow variables the state sets (both languages).
    pub assign: Option<Assign>,
}

/// A query language (`QueryLanguage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Language {
    /// `"JSONPath"`, the default.
    #[default]
    JsonPath,
    /// `"JSONata"`.
    Jsonata,
}

impl Language {
    /// The name as written in a definition.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::JsonPath => "JSONPath",
            Language::Jsonata => "JSONata",
        }
    }
}

/// An `Assign` block: variable names and their values.
#[derive(Debug, Clone, PartialEq)]
pub enum Assign {
    /// JSONPath: a payload template (`"name.$": "$.path"`, literals otherwise).
    Paths(PayloadTemplate),
    /// JSONata: every value a template whose `{% … %}` strings are expressions.
    Expressions(Template),
}

impl State {
    /// Every state this one can move to: `Next`, Choice rule targets, `Default` and catcher
    /// targets, in definition order (possibly with repeats).
    pub fn successors(&self) -> Vec<&str> {
        parse::targets(self).into_iter().map(|(_, target)| target).collect()
    }
}

/// How a state continues after it completes normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `"Next": name`, a state in the same scope.
    Next(String),
    /// `"End": true`: the machine (or branch, or iteration) ends with this state's output.
    End,
    /// Succeed and Fail states, which always end their machine.
    Terminal,
    /// Choice states, whose rules and `Default` pick the next state.
    Choice,
}

/// The JSONPath input and output processing fields of a state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Io {
    /// `InputPath`: a Path (the Context Object allowed); `Null` makes the effective input `{}`.
    pub input_path: PathField,
    /// `OutputPath`: a Path (the Context Object allowed); `Null` makes the output `{}`.
    pub output_path: PathField,
    /// `Parameters` of Pass, Task and Parallel states. A Map's (deprecated) `Parameters` is its
    /// [`Map::item_selector`] instead.
    pub parameters: Option<PayloadTemplate>,
    /// `ResultSelector` of Task, Parallel and Map states.
    pub result_selector: Option<PayloadTemplate>,
    /// `ResultPath`: a Reference Path into the state input (never `$$`); `Null` discards the
    /// result and keeps the input.
    pub result_path: PathField,
    /// JSONata `Arguments` of Task and Parallel states.
    pub arguments: Option<Template>,
    /// JSONata `Output` of every state type but Fail.
    pub output: Option<Template>,
}

/// A path field that may be absent, `null`, or a path.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PathField {
    /// The field is absent: same as `"$"`.
    #[default]
    Default,
    /// The field is `null`.
    Null,
    /// The field holds a path.
    Path(JsonPath),
}

/// A state's type and its type-specific fields.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    /// `"Type": "Pass"`.
    Pass {
        /// The `Result` field: used as the state's result instead of its effective input.
        result: Option<Value>,
    },
    /// `"Type": "Task"`.
    Task(Task),
    /// `"Type": "Choice"`.
    Choice(Choice),
    /// `"Type": "Wait"`.
    Wait(Wait),
    /// `"Type": "Succeed"`.
    Succeed,
    /// `"Type": "Fail"`.
    Fail(Fail),
    /// `"Type": "Parallel"`.
    Parallel(Parallel),
    /// `"Type": "Map"`.
    Map(Box<Map>),
}

impl StateKind {
    /// The `Type` value, which is also the prefix of the state's history events
    /// (`TaskStateEntered`, `MapStateExited`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// A value given either literally or by a Reference Path into the effective input
/// (`TimeoutSeconds` / `TimeoutSecondsPath`, `MaxConcurrency` / `MaxConcurrencyPath`, ...).
///
/// Literal values were range-checked at load; a path's value must be checked when it is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic<T> {
    /// The literal value.
    Fixed(T),
    /// The `...Path` field: a Reference Path, never into the Context Object.
    Path(JsonPath),
    /// A JSONata state's field given as a `{% … %}` expression, checked when it is evaluated.
    Expression(Expression),
}

/// The payload of an ItemReader or ResultWriter (`Parameters` / `Arguments`) or an
/// ItemBatcher's `BatchInput`, in the state's query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// JSONPath: a payload template (`"Bucket.$": "$.bucket"`, literals otherwise).
    Paths(PayloadTemplate),
    /// JSONata: a template whose `{% … %}` strings are expressions.
    Expressions(Template),
}

impl<T> Dynamic<T> {
    /// The path or expression as written (empty for a literal), for messages.
    pub fn source(&self) -> &str {
        match self {
            Dynamic::Fixed(_) => "",
            Dynamic::Path(path) => path.as_str(),
            Dynamic::Expression(expression) => expression.as_str(),
        }
    }
}

/// A duration in whole seconds, literal or by path.
pub type Seconds = Dynamic<u64>;

/// A Task state.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// What the task calls.
    pub resource: Resource,
    /// The `Resource` text as written (placeholders not substituted), for history events.
    pub resource_arn: String,
    /// `TimeoutSeconds` / `TimeoutSecondsPath` (1 to 99,999,999 seconds).
    pub timeout: Option<Seconds>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath` (1 to 99,999,999 seconds, below a literal
    /// timeout).
    pub heartbeat: Option<Seconds>,
    /// `Retry`, in order.
    pub retry: Vec<Retrier>,
    /// `Catch`, in order.
    pub catch: Vec<Catcher>,
}

/// The integrations a Task state can call locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `arn:aws:states:::lambda:invoke`: `Parameters` gives `FunctionName` and `Payload`
    /// (checked at load) and the raw result is `{ExecutedVersion, Payload, StatusCode, ...}`.
    LambdaInvoke,
    /// A legacy bare function ARN (`arn:aws:lambda:region:account:function:name[:qualifier]`)
    /// or a bare `${Placeholder}`: the effective input is the payload and the function's
    /// response is the result.
    LambdaFunction {
        /// The ARN or placeholder as written.
        function: String,
    },
    /// `arn:aws:states:::states:startExecution[.sync|.sync:2]`: `Parameters` gives
    /// `StateMachineArn` (checked at load) and optionally `Input` and `Name`.
    StartExecution {
        /// Whether and how the task waits for the child execution.
        mode: ExecMode,
    },
}

/// How a `states:startExecution` task waits for its child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// No suffix: returns `{ExecutionArn, StartDate}` at once.
    FireAndForget,
    /// `.sync`: waits; the result's `Input` and `Output` are JSON strings.
    Sync,
    /// `.sync:2`: waits; the result's `Input` and `Output` are parsed JSON.
    Sync2,
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`: non-empty; `States.ALL` only alone and in the last retrier.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1, range 1 to 99,999,999).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3, range 0 to 99,999,999; 0 never retries).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0, at least 1.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds` (range 1 to 31,622,400), the cap on one delay.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy` (default `NONE`).
    pub jitter: Jitter,
}

/// A retrier's `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// `NONE`: wait exactly the computed delay.
    None,
    /// `FULL`: wait a uniformly random time between 0 and the computed delay.
    Full,
}

/// One `Catch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    /// `ErrorEquals`: non-empty; `States.ALL` only alone and in the last catcher.
    pub error_equals: Vec<String>,
    /// `Next`: a state in the same scope.
    pub next: String,
    /// `ResultPath` for the error output `{"Error", "Cause"}` (default `$`, replacing the input).
    pub result_path: PathField,
    /// JSONata `Output` (default `$states.errorOutput`).
    pub output: Option<Template>,
    /// `Assign`: run instead of the state's own when this catcher matches.
    pub assign: Option<Assign>,
}

/// A Choice state.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `Choices`, in order (at least one).
    pub choices: Vec<ChoiceBranch>,
    /// `Default`: where to go when no rule matches (`States.NoChoiceMatched` otherwise).
    pub default: Option<String>,
}

/// One top-level Choice rule and where it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    /// The JSONPath rule, parsed by the `choice` module (`None` in a JSONata state).
    pub rule: Option<ChoiceRule>,
    /// The JSONata `Condition` (`None` in a JSONPath state).
    pub condition: Option<Expression>,
    /// The rule's `Next`: a state in the same scope.
    pub next: String,
    /// The rule's `Assign`, run when it matches.
    pub assign: Option<Assign>,
    /// A JSONata rule's `Output`, the state's output when it matches (instead of the state's).
    pub output: Option<Template>,
}

/// A Wait state: exactly one of its four fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// `Seconds` (0 to 99,999,999).
    Seconds(u64),
    /// `Timestamp`: an RFC 3339 time with an uppercase `T` and `Z` (or a numeric offset).
    Timestamp(DateTime<FixedOffset>),
    /// `SecondsPath`: a Reference Path to a non-negative integer.
    SecondsPath(JsonPath),
    /// `TimestampPath`: a Reference Path to a timestamp string.
    TimestampPath(JsonPath),
    /// JSONata `Seconds` given as an expression.
    SecondsExpr(Expression),
    /// JSONata `Timestamp` given as an expression.
    TimestampExpr(Expression),
}

/// A Fail state; `Error` and `ErrorPath` (and `Cause` and `CausePath`) exclude each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    /// `Error`.
    pub error: Option<String>,
    /// `ErrorPath`.
    pub error_path: Option<StringSource>,
    /// `Cause`.
    pub cause: Option<String>,
    /// `CausePath`.
    pub cause_path: Option<StringSource>,
    /// JSONata `Error` given as an expression.
    pub error_expr: Option<Expression>,
    /// JSONata `Cause` given as an expression.
    pub cause_expr: Option<Expression>,
}

/// A string read at run time: a Fail state's `ErrorPath` or `CausePath`.
#[derive(Debug, Clone, PartialEq)]
pub enum StringSource {
    /// A Reference Path (the Context Object allowed).
    Path(JsonPath),
    /// An intrinsic function such as `States.Format('...', $.x)`, evaluated against the
    /// effective input.
    Intrinsic(Intrinsic),
}

/// A Parallel state.
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    /// `Branches` (at least one), each a closed scope.
    pub branches: Vec<StateMachine>,
    /// `Retry`, in order.
    pub retry: Vec<Retrier>,
    /// `Catch`, in order.
    pub catch: Vec<Catcher>,
}

/// A Map state, inline or distributed.
///
/// The legacy names `Iterator` and (on a Map) `Parameters` load as `ItemProcessor` and
/// `ItemSelector`. The Distributed-only fields (`ItemReader`, `ItemBatcher`, `ResultWriter`,
/// `Label`, `ToleratedFailure*`) are rejected on inline Maps, so they are `None` there.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// `ItemProcessor` (or `Iterator`): the machine run for each item or batch.
    pub processor: StateMachine,
    /// `ItemProcessor.ProcessorConfig`.
    pub mode: MapMode,
    /// `ItemsPath`: a Reference Path (the Context Object allowed); `None` means `$`. Not
    /// allowed together with an `ItemReader`.
    pub items_path: Option<JsonPath>,
    /// `ItemSelector` (or the deprecated `Parameters`), applied to each item.
    pub item_selector: Option<PayloadTemplate>,
    /// JSONata `Items`: the array to iterate (default `$states.input`).
    pub items: Option<Template>,
    /// JSONata `ItemSelector`, with `$states.context.Map.Item`.
    pub jsonata_item_selector: Option<Template>,
    /// `MaxConcurrency` / `MaxConcurrencyPath`; 0 or absent means no limit.
    pub max_concurrency: Option<Dynamic<u32>>,
    /// `ItemReader` (Distributed only).
    pub item_reader: Option<ItemReader>,
    /// `ItemBatcher` (Distributed only).
    pub item_batcher: Option<ItemBatcher>,
    /// `ResultWriter` (Distributed only).
    pub result_writer: Option<ResultWriter>,
    /// `ToleratedFailurePercentage` / `...Path` (0 to 100, fractions allowed; Distributed only).
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    /// `ToleratedFailureCount` / `...Path` (Distributed only).
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    /// `Label` (Distributed only): at most 40 characters, no whitespace or special characters.
    pub label: Option<String>,
    /// `Retry`, in order.
    pub retry: Vec<Retrier>,
    /// `Catch`, in order.
    pub catch: Vec<Catcher>,
}

/// How a Map runs its iterations (`ProcessorConfig.Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// `INLINE` (the default): iterations run inside the parent execution and its history.
    Inline,
    /// `DISTRIBUTED`: each item or batch is a child execution with its own history.
    Distributed {
        /// `ProcessorConfig.ExecutionType` (required in this mode).
        execution_type: ExecutionType,
    },
}

/// The type of a Distributed Map's child executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionType {
    /// `STANDARD`: own history, 25,000-event quota.
    Standard,
    /// `EXPRESS`: no service history, 5-minute limit, no `.sync` integrations.
    Express,
}

/// A Distributed Map's `ItemReader`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReader {
    /// `Resource` and the `ReaderConfig` fields that depend on it.
    pub source: ReaderSource,
    /// `Parameters` (`Arguments` in JSONata): `Bucket` plus `Prefix` (listObjectsV2) or `Key`
    /// (getObject), keys checked at load.
    pub parameters: Payload,
    /// `ReaderConfig.MaxItems` (1 to 100,000,000) / `ReaderConfig.MaxItemsPath`.
    pub max_items: Option<Dynamic<u64>>,
}

/// Where an `ItemReader` reads items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSource {
    /// `arn:aws:states:::s3:listObjectsV2`: one item per object,
    /// `{"Etag", "Key", "LastModified", "Size", "StorageClass"}`.
    ListObjectsV2,
    /// `arn:aws:states:::s3:getObject`: the items inside one object.
    GetObject {
        /// `ReaderConfig.InputType` (required) and its options.
        input_type: ReaderInputType,
    },
}

/// The format of the object an `s3:getObject` reader reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderInputType {
    /// `JSON`: the object is a JSON array of items.
    Json,
    /// `JSONL`: one JSON item per line.
    Jsonl,
    /// `CSV`: one object per row, keyed by the header.
    Csv {
        /// `CSVHeaderLocation` (default `FIRST_ROW`).
        header_location: CsvHeaderLocation,
        /// `CSVDelimiter` (default `COMMA`).
        delimiter: CsvDelimiter,
    },
}

/// Where a CSV reader finds its column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvHeaderLocation {
    /// `FIRST_ROW`.
    FirstRow,
    /// `GIVEN`, with `CSVHeaders` (a non-empty list).
    Given(Vec<String>),
}

/// A CSV reader's `CSVDelimiter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvDelimiter {
    /// `COMMA`.
    Comma,
    /// `PIPE`.
    Pipe,
    /// `SEMICOLON`.
    Semicolon,
    /// `SPACE`.
    Space,
    /// `TAB`.
    Tab,
}

impl CsvDelimiter {
    /// The delimiter character.
    pub fn as_char(self) -> char {
        match self {
            CsvDelimiter::Comma => ',',
            CsvDelimiter::Pipe => '|',
            CsvDelimiter::Semicolon => ';',
            CsvDelimiter::Space => ' ',
            CsvDelimiter::Tab => '\t',
        }
    }
}

/// A Distributed Map's `ItemBatcher`: at least one of the two limits is set.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` (at least 1) / `MaxItemsPerBatchPath`.
    pub max_items_per_batch: Option<Dynamic<u64>>,
    /// `MaxInputBytesPerBatch` (1 to 262,144) / `MaxInputBytesPerBatchPath`.
    pub max_input_bytes_per_batch: Option<Dynamic<u64>>,
    /// `BatchInput`: a payload added to every batch as `BatchInput`.
    pub batch_input: Option<Payload>,
}

/// A Distributed Map's `ResultWriter` (`arn:aws:states:::s3:putObject`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultWriter {
    /// `Parameters` (`Arguments` in JSONata): `Bucket` and optionally `Prefix`, keys checked
    /// at load.
    pub parameters: Payload,
}

/// Why a definition was rejected: every problem found, each naming its state and field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render_problems(origin, problems))]
pub struct AslError {
    /// What the definition is (the `origin` given to the loader).
    pub origin: String,
    /// The problems, in the order they were found; never empty.
    pub problems: Vec<Problem>,
}

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The state's path (`TransformFiles/ItemProcessor/TransformBatch` for nested states,
    /// `Par/Branches[0]` for a branch's own fields), or `None` for the top level.
    pub state: Option<String>,
    /// The field, with its position inside the state (`Retry[1].IntervalSeconds`), or one of
    /// `(name)` (the state's name), `(state)` (the state as a whole), `(json)` (the text is not
    /// JSON) and `(definition)` (the whole definition).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(state) = &self.state {
            write!(f, "state \"{state}\": ")?;
        }
        write!(f, "field {}: {}", self.field, self.message)
    }
}

/// One line per problem, each starting with the origin.
fn render_problems(origin: &str, problems: &[Problem]) -> String {
    let lines: Vec<String> =
        problems.iter().map(|problem| format!("{origin}: {problem}")).collect();
    lines.join("\n")
}
