//! Turns a definition's JSON tree into the typed model, checking every field on the way.
//!
//! Problems are collected, not returned at the first one: each parse step records what it found
//! wrong and returns [`Reported`], and the definition fails if anything was recorded. Graph checks
//! (targets, reachability, a terminal state) run per scope once its states are parsed; a scope
//! with a state that failed to parse skips reachability, so one mistake does not cascade.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use super::json::{Node, get};
use super::*;
use crate::jsonpath::looks_like_intrinsic;

/// Marks a part whose problem is already recorded.
struct Reported;

/// The outcome of one parse step.
type Parsed<T> = Result<T, Reported>;

mod map;
mod task;

/// The suffix of every message about a feature the local runner lacks.
const UNSUPPORTED: &str = "not supported by graphetl's local runner";
/// Fields only a JSONPath state has.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
];
/// Fields only a JSONata state has.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

/// Longest workflow variable name, in characters.
const MAX_VARIABLE_NAME_CHARS: usize = 80;

/// AWS's message for a field of the other query language.
fn other_language(key: &str, language: Language) -> Option<String> {
    let only = match language {
        Language::Jsonata if JSONPATH_ONLY.contains(&key) => Language::JsonPath,
        Language::JsonPath if JSONATA_ONLY.contains(&key) => Language::Jsonata,
        _ => return None,
    };
    Some(format!("field '{key}' is only supported for the '{}' QueryLanguage", only.as_str()))
}

/// Longest state name, in Unicode characters.
const MAX_STATE_NAME_CHARS: usize = 80;
/// Upper bound of `TimeoutSeconds`, `HeartbeatSeconds`, `IntervalSeconds`, `MaxAttempts`, Wait
/// `Seconds`.
const MAX_SECONDS: u64 = 99_999_999;

/// Fields of the top level of a definition.
const ROOT_FIELDS: &[&str] =
    &["Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"];
/// Fields of a Parallel branch.
const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];

/// Fields every state type allows.
const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];
/// Fields of a Pass state beyond the common ones.
const PASS_FIELDS: &[&str] =
    &["Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result"];
/// Fields of a Task state beyond the common ones.
const TASK_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Resource",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Retry",
    "Catch",
];
/// Fields of a Choice state beyond the common ones.
const CHOICE_FIELDS: &[&str] = &["InputPath", "OutputPath", "Choices", "Default"];
/// Fields of a Wait state beyond the common ones.
const WAIT_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
];
/// Fields of a Succeed state beyond the common ones.
const SUCCEED_FIELDS: &[&str] = &["InputPath", "OutputPath"];
/// Fields of a Fail state beyond the common ones.
const FAIL_FIELDS: &[&str] = &["Error", "ErrorPath", "Cause", "CausePath"];
/// Fields of a Parallel state beyond the common ones.
const PARALLEL_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Branches",
];
/// Fields of a Map state beyond the common ones.
const MAP_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "ItemProcessor",
    "Iterator",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
];

/// The type-specific fields of a state type, or `None` for an unknown type.
fn type_fields(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "Pass" => PASS_FIELDS,
        "Task" => TASK_FIELDS,
        "Choice" => CHOICE_FIELDS,
        "Wait" => WAIT_FIELDS,
        "Succeed" => SUCCEED_FIELDS,
        "Fail" => FAIL_FIELDS,
        "Parallel" => PARALLEL_FIELDS,
        "Map" => MAP_FIELDS,
        _ => return None,
    })
}

/// Whether some state type has this field.
fn is_state_field(key: &str) -> bool {
    [PASS_FIELDS, TASK_FIELDS, CHOICE_FIELDS, WAIT_FIELDS, FAIL_FIELDS, PARALLEL_FIELDS, MAP_FIELDS]
        .iter()
        .any(|fields| fields.contains(&key))
}

/// The message for a field that is valid ASL but beyond the local runner, if `key` is one.
fn unsupported_field(key: &str, _value: &Node) -> Option<String> {
    Some(match key {
        "Credentials" => format!("Task Credentials (cross-account access) are {UNSUPPORTED}"),
        "Transformation" => {
            format!("ItemReader transformations (LOAD_AND_FLATTEN) are {UNSUPPORTED}")
        }
        "ItemsPointer" => {
            format!("ItemsPointer (items nested inside a JSON file) is {UNSUPPORTED}")
        }
        "ManifestType" => format!("manifest readers (ATHENA_DATA, S3_INVENTORY) are {UNSUPPORTED}"),
        "WriterConfig" => format!(
            "ResultWriter WriterConfig (Transformation, OutputType) is {UNSUPPORTED}; give only \
             Resource and Parameters"
        ),
        _ => return None,
    })
}

/// What a path field may hold.
#[derive(Clone, Copy)]
struct PathRule {
    /// Must be a Reference Path (a single node).
    reference: bool,
    /// May read the Context Object (`$$`).
    context: bool,
}

/// `InputPath`, `OutputPath`: any Path.
const ANY_PATH: PathRule = PathRule { reference: false, context: true };
/// `ResultPath`: a Reference Path into the input.
const RESULT_PATH: PathRule = PathRule { reference: true, context: false };
/// `ItemsPath`, `ErrorPath`, `CausePath`: a Reference Path, the Context Object allowed.
const REFERENCE_PATH: PathRule = PathRule { reference: true, context: true };
/// The `...Path` twins of numbers and timestamps: a Reference Path into the input.
const VALUE_PATH: PathRule = PathRule { reference: true, context: false };

/// Parses and validates a whole definition.
pub(super) fn definition(node: &Node, origin: &str) -> Result<StateMachine, AslError> {
    let mut parser =
        Parser { problems: Vec::new(), all_names: HashMap::new(), language: Language::JsonPath };
    let machine = parser.root(node);
    match machine {
        Ok(machine) if parser.problems.is_empty() => Ok(machine),
        _ => {
            if parser.problems.is_empty() {
                parser.report(None, "(definition)", "is not a valid state machine");
            }
            Err(AslError { origin: origin.to_owned(), problems: parser.problems })
        }
    }
}

/// The transitions of a state that failed to parse, read from its JSON as far as it is
/// well-formed, so a wrong target is still reported.
fn raw_targets(node: &Node) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let Some(entries) = node.as_object() else { return out };
    let type_name = get(entries, "Type").and_then(Node::as_str);
    match type_name {
        Some("Choice") => {
            if let Some(Node::Array(rules)) = get(entries, "Choices") {
                for (position, rule) in rules.iter().enumerate() {
                    if let Some(next) =
                        rule.as_object().and_then(|rule| get(rule, "Next")).and_then(Node::as_str)
                    {
                        out.push((format!("Choices[{position}].Next"), next));
                    }
                }
            }
            if let Some(default) = get(entries, "Default").and_then(Node::as_str) {
                out.push(("Default".to_owned(), default));
            }
        }
        Some("Succeed" | "Fail") | None => {}
        Some(_) => {
            if let Some(next) = get(entries, "Next").and_then(Node::as_str) {
                out.push(("Next".to_owned(), next));
            }
        }
    }
    if let (Some("Task" | "Parallel" | "Map"), Some(Node::Array(catchers))) =
        (type_name, get(entries, "Catch"))
    {
        for (position, catcher) in catchers.iter().enumerate() {
            if let Some(next) =
                catcher.as_object().and_then(|catcher| get(catcher, "Next")).and_then(Node::as_str)
            {
                out.push((format!("Catch[{position}].Next"), next));
            }
        }
    }
    out
}

/// Every `(field, target)` transition of a state, in definition order.
pub(super) fn targets(state: &State) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if let Transition::Next(next) = &state.transition {
        out.push(("Next".to_owned(), next.as_str()));
    }
    let catchers: &[Catcher] = match &state.kind {
        StateKind::Choice(choice) => {
            for (position, branch) in choice.choices.iter().enumerate() {
                out.push((format!("Choices[{position}].Next"), branch.next.as_str()));
            }
            if let Some(default) = &choice.default {
                out.push(("Default".to_owned(), default.as_str()));
            }
            &[]
        }
        StateKind::Task(task) => &task.catch,
        StateKind::Parallel(parallel) => &parallel.catch,
        StateKind::Map(map) => &map.catch,
        _ => &[],
    };
    for (position, catcher) in catchers.iter().enumerate() {
        out.push((format!("Catch[{position}].Next"), catcher.next.as_str()));
    }
    out
}

/// The path of a state inside a scope (`None` is the top level).
fn join(scope: Option<&str>, name: &str) -> String {
    match scope {
        Some(scope) => format!("{scope}/{name}"),
        None => name.to_owned(),
    }
}

/// Collects problems while building the model.
struct Parser {
    /// Everything found wrong so far.
    problems: Vec<Problem>,
    /// Every state name in the definition, nested ones included, with its first path.
    all_names: HashMap<String, String>,
    /// The query language of the state being parsed (the definition's outside states).
    language: Language,
}

impl Parser {
    /// Records a problem.
    fn report(&mut self, state: Option<&str>, field: &str, message: impl Into<String>) -> Reported {
        self.problems.push(Problem {
            state: state.map(str::to_owned),
            field: field.to_owned(),
            message: message.into(),
        });
        Reported
    }

    /// The top level: a machine plus `TimeoutSeconds`, `Version` and `QueryLanguage`.
    fn root(&mut self, node: &Node) -> Parsed<StateMachine> {
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                None,
                "(definition)",
                format!("must be a JSON object, found {}", node.kind()),
            ));
        };
        self.check_fields(None, "", entries, ROOT_FIELDS, "the top level of a definition");
        self.language = self.query_language(None, entries).unwrap_or_default();
        if let Some(version) = get(entries, "Version")
            && version.as_str() != Some("1.0")
        {
            self.report(None, "Version", "must be \"1.0\"");
        }
        let timeout = match get(entries, "TimeoutSeconds") {
            Some(node) => self.int(None, "TimeoutSeconds", node, 1, MAX_SECONDS).map(Some),
            None => Ok(None),
        };
        if let Some(states) = get(entries, "States").and_then(Node::as_object) {
            self.collect_names(states, None);
            self.check_variable_scopes(states, None, &HashMap::new());
        }
        let mut machine = self.machine(entries, None)?;
        machine.timeout_seconds = timeout?;
        Ok(machine)
    }

    /// Reports an `Assign` inside a Parallel branch or inline Map iteration that names a
    /// variable its outer scopes assign (`outer`: name → the assigning state): an inner scope
    /// reads outer variables but cannot assign them, and names cannot shadow. A Distributed Map's
    /// children are executions of their own (they do not see outer variables), so their scope
    /// starts empty.
    fn check_variable_scopes(
        &mut self,
        states: &[(String, Node)],
        scope: Option<&str>,
        outer: &HashMap<String, String>,
    ) {
        let mut local = outer.clone();
        let mut conflicts = Vec::new();
        for (name, node) in states {
            let path = join(scope, name);
            let Some(fields) = node.as_object() else { continue };
            for (field, key) in assigned_names(fields) {
                let variable = key.strip_suffix(".$").unwrap_or(&key).to_owned();
                match outer.get(&variable) {
                    Some(first) => conflicts.push((path.clone(), field, key, first.clone())),
                    None => {
                        local.entry(variable).or_insert_with(|| path.clone());
                    }
                }
            }
        }
        for (path, field, key, first) in conflicts {
            self.report(
                Some(&path),
                &format!("{field}.{key}"),
                format!(
                    "variable {:?} is assigned in an outer scope (state \"{first}\"); a Map \
                     iteration or Parallel branch can read it but not assign it",
                    key.strip_suffix(".$").unwrap_or(&key)
                ),
            );
        }
        for (name, node) in states {
            let path = join(scope, name);
            let Some(fields) = node.as_object() else { continue };
            match get(fields, "Type").and_then(Node::as_str) {
                Some("Parallel") => {
                    if let Some(Node::Array(branches)) = get(fields, "Branches") {
                        for (position, branch) in branches.iter().enumerate() {
                            if let Some(inner) = nested_states(branch) {
                                let at = format!("{path}/Branches[{position}]");
                                self.check_variable_scopes(inner, Some(&at), &local);
                            }
                        }
                    }
                }
                Some("Map") => {
                    for key in ["ItemProcessor", "Iterator"] {
                        let Some(processor) = get(fields, key) else { continue };
                        let distributed = processor
                            .as_object()
                            .and_then(|p| get(p, "ProcessorConfig"))
                            .and_then(Node::as_object)
                            .and_then(|c| get(c, "Mode"))
                            .and_then(Node::as_str)
                            == Some("DISTRIBUTED");
                        if let Some(inner) = nested_states(processor) {
                            let at = format!("{path}/{key}");
                            let empty = HashMap::new();
                            let outer = if distributed { &empty } else { &local };
                            self.check_variable_scopes(inner, Some(&at), outer);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Records every state name with its path, reporting names used twice anywhere.
    fn collect_names(&mut self, states: &[(String, Node)], scope: Option<&str>) {
        for (name, node) in states {
            let path = join(scope, name);
            if let Some(first) = self.all_names.get(name) {
                let message = format!(
                    "the name {name:?} is already used by state \"{first}\"; state names must be \
                     unique across the whole state machine, nested ones included"
                );
                self.report(Some(&path), "(name)", message);
            } else {
                self.all_names.insert(name.clone(), path.clone());
            }
            let Some(fields) = node.as_object() else { continue };
            match get(fields, "Type").and_then(Node::as_str) {
                Some("Parallel") => {
                    if let Some(Node::Array(branches)) = get(fields, "Branches") {
                        for (position, branch) in branches.iter().enumerate() {
                            if let Some(inner) = nested_states(branch) {
                                self.collect_names(
                                    inner,
                                    Some(&format!("{path}/Branches[{position}]")),
                                );
                            }
                        }
                    }
                }
                Some("Map") => {
                    for key in ["ItemProcessor", "Iterator"] {
                        if let Some(inner) = get(fields, key).and_then(nested_states) {
                            self.collect_names(inner, Some(&format!("{path}/{key}")));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A machine's own fields (`StartAt`, `States`, `Comment`) and its graph checks; `scope` is
    /// `None` at the top level, else the path of the branch or processor.
    fn machine(&mut self, entries: &[(String, Node)], scope: Option<&str>) -> Parsed<StateMachine> {
        let comment = self.opt_string(scope, "", "Comment", entries);
        let start_at = match get(entries, "StartAt") {
            Some(Node::String(name)) => Ok(name.clone()),
            Some(other) => Err(self.report(
                scope,
                "StartAt",
                format!("must be a string, found {}", other.kind()),
            )),
            None => Err(self.report(scope, "StartAt", "is required")),
        };
        let state_entries = match get(entries, "States") {
            Some(Node::Object(states)) if !states.is_empty() => states.as_slice(),
            Some(Node::Object(_)) => {
                return Err(self.report(scope, "States", "must hold at least one state"));
            }
            Some(other) => {
                return Err(self.report(
                    scope,
                    "States",
                    format!("must be an object of states, found {}", other.kind()),
                ));
            }
            None => return Err(self.report(scope, "States", "is required")),
        };

        let mut states = Vec::with_capacity(state_entries.len());
        let mut failed = Vec::new();
        let mut complete = true;
        for (name, node) in state_entries {
            let path = join(scope, name);
            let n_chars = name.chars().count();
            if n_chars == 0 || n_chars > MAX_STATE_NAME_CHARS {
                self.report(
                    Some(&path),
                    "(name)",
                    format!("state names must have 1 to {MAX_STATE_NAME_CHARS} characters, found {n_chars}"),
                );
            }
            match self.state(name, &path, node) {
                Ok(state) => states.push(state),
                Err(Reported) => {
                    complete = false;
                    failed.push((path, raw_targets(node)));
                }
            }
        }

        let names: HashSet<&str> = state_entries.iter().map(|(name, _)| name.as_str()).collect();
        if let Ok(start) = &start_at
            && !names.contains(start.as_str())
        {
            self.missing_target(scope, "StartAt", start);
        }
        for state in &states {
            let path = join(scope, &state.name);
            for (field, target) in targets(state) {
                if !names.contains(target) {
                    self.missing_target(Some(&path), &field, target);
                }
            }
        }
        for (path, raw) in &failed {
            for (field, target) in raw {
                if !names.contains(*target) {
                    self.missing_target(Some(path), field, target);
                }
            }
        }
        let start_at = start_at?;
        if complete && names.contains(start_at.as_str()) {
            self.check_graph(scope, &start_at, &states);
        }
        if !complete {
            return Err(Reported);
        }
        Ok(StateMachine::new(comment?, start_at, states, None))
    }

    /// Reports a transition to a state that is not in the scope.
    fn missing_target(&mut self, state: Option<&str>, field: &str, target: &str) {
        let message = match self.all_names.get(target) {
            Some(elsewhere) => format!(
                "{target:?} is the state \"{elsewhere}\" in another scope; a Parallel branch or a \
                 Map item processor can only move between its own states"
            ),
            None => format!("there is no state named {target:?} in this scope"),
        };
        self.report(state, field, message);
    }

    /// Reports states not reachable from `StartAt` and a scope without a terminal state.
    fn check_graph(&mut self, scope: Option<&str>, start_at: &str, states: &[State]) {
        let by_name: HashMap<&str, &State> =
            states.iter().map(|state| (state.name.as_str(), state)).collect();
        let mut reached: HashSet<&str> = HashSet::new();
        let mut to_visit = vec![start_at];
        while let Some(name) = to_visit.pop() {
            if !reached.insert(name) {
                continue;
            }
            if let Some(state) = by_name.get(name) {
                to_visit
                    .extend(state.successors().into_iter().filter(|next| !reached.contains(next)));
            }
        }
        for state in states {
            if !reached.contains(state.name.as_str()) {
                self.report(
                    Some(&join(scope, &state.name)),
                    "(state)",
                    format!(
                        "is not reachable from StartAt {start_at:?} through Next, Default, \
                         Choices or Catch; Step Functions rejects unreachable states"
                    ),
                );
            }
        }
        let has_terminal = states
            .iter()
            .any(|state| matches!(state.transition, Transition::End | Transition::Terminal));
        if !has_terminal {
            self.report(
                scope,
                "States",
                "has no terminal state: at least one state needs \"End\": true or Type Succeed or Fail",
            );
        }
    }

    /// One state.
    fn state(&mut self, name: &str, path: &str, node: &Node) -> Parsed<State> {
        let at = Some(path);
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                "(state)",
                format!("must be a JSON object, found {}", node.kind()),
            ));
        };
        let type_name = match get(entries, "Type") {
            Some(Node::String(type_name)) => type_name.as_str(),
            Some(other) => {
                return Err(self.report(
                    at,
                    "Type",
                    format!("must be a string, found {}", other.kind()),
                ));
            }
            None => return Err(self.report(at, "Type", "is required")),
        };
        let Some(allowed) = type_fields(type_name) else {
            return Err(self.report(
                at,
                "Type",
                format!(
                    "{type_name:?} is not a state type; expected Pass, Task, Choice, Wait, Succeed, \
                     Fail, Parallel or Map"
                ),
            ));
        };
        let outer = self.language;
        let language = self.query_language(at, entries).unwrap_or(outer);
        self.language = language;
        let state = self.state_body(name, path, type_name, entries, allowed);
        self.language = outer;
        state
    }

    /// One state's fields, in `self.language`.
    fn state_body(
        &mut self,
        name: &str,
        path: &str,
        type_name: &str,
        entries: &[(String, Node)],
        allowed: &[&str],
    ) -> Parsed<State> {
        let at = Some(path);
        let language = self.language;
        self.check_state_fields(path, type_name, entries, allowed);
        let comment = self.opt_string(at, "", "Comment", entries);
        let io = self.io(path, type_name, entries);
        let assign = self.assign(at, "Assign", get(entries, "Assign"));
        let transition = match type_name {
            "Choice" => Ok(Transition::Choice),
            "Succeed" | "Fail" => Ok(Transition::Terminal),
            _ => self.transition(path, entries),
        };
        let kind = match type_name {
            "Pass" => Ok(StateKind::Pass { result: get(entries, "Result").map(Node::to_value) }),
            "Task" => self.task(path, entries).map(StateKind::Task),
            "Choice" => self.choice(path, entries).map(StateKind::Choice),
            "Wait" => self.wait(path, entries).map(StateKind::Wait),
            "Succeed" => Ok(StateKind::Succeed),
            "Fail" => self.fail(path, entries).map(StateKind::Fail),
            "Parallel" => self.parallel(path, entries).map(StateKind::Parallel),
            _ => self.map(path, entries).map(|map| StateKind::Map(Box::new(map))),
        };
        Ok(State {
            name: name.to_owned(),
            comment: comment?,
            kind: kind?,
            io: io?,
            transition: transition?,
            language,
            assign: assign?,
        })
    }

    /// An `Assign` block in the current language: an object of variable names.
    pub(super) fn assign(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: Option<&Node>,
    ) -> Parsed<Option<Assign>> {
        let Some(node) = node else { return Ok(None) };
        let Some(entries) = node.as_object() else {
            return Err(self.report(
                at,
                field,
                format!("must be an object, found {}", node.kind()),
            ));
        };
        for (key, _) in entries {
            let name = match self.language {
                Language::JsonPath => key.strip_suffix(".$").unwrap_or(key),
                Language::Jsonata => key.as_str(),
            };
            let valid = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if name == "states" {
                self.report(at, &format!("{field}.{key}"), "'states' is a reserved variable name");
            } else if name.chars().count() > MAX_VARIABLE_NAME_CHARS {
                self.report(
                    at,
                    &format!("{field}.{key}"),
                    format!("variable names have at most {MAX_VARIABLE_NAME_CHARS} characters"),
                );
            } else if !valid {
                self.report(
                    at,
                    &format!("{field}.{key}"),
                    "is not a valid variable name (letters, digits and _, not starting with a digit)",
                );
            }
        }
        match self.language {
            Language::JsonPath => {
                PayloadTemplate::parse(&node.to_value()).map(|t| Some(Assign::Paths(t)))
            }
            Language::Jsonata => {
                Template::parse(&node.to_value()).map(|t| Some(Assign::Expressions(t)))
            }
        }
        .map_err(|message| self.report(at, field, message))
    }

    /// A JSONata template field (`Arguments`, `Output`, `Items`, `ItemSelector`...).
    pub(super) fn jsonata_template(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: Option<&Node>,
    ) -> Parsed<Option<Template>> {
        match node {
            None => Ok(None),
            Some(node) => Template::parse(&node.to_value())
                .map(Some)
                .map_err(|message| self.report(at, field, message)),
        }
    }

    /// A JSONata expression field (`Condition`).
    fn jsonata_expression(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: &Node,
    ) -> Parsed<Expression> {
        match node {
            Node::String(text) if crate::jsonata::is_expression(text) => {
                Expression::parse(text).map_err(|message| self.report(at, field, message))
            }
            other => Err(self.report(
                at,
                field,
                format!("must be a JSONata expression string ({{% … %}}), found {}", other.kind()),
            )),
        }
    }

    /// Reports the fields a state of this type must not have.
    fn check_state_fields(
        &mut self,
        path: &str,
        type_name: &str,
        entries: &[(String, Node)],
        allowed: &[&str],
    ) {
        let language = self.language;
        for (key, value) in entries {
            let extra = match key.as_str() {
                "Assign" => !matches!(type_name, "Succeed" | "Fail"),
                "Output" => language == Language::Jsonata && type_name != "Fail",
                "Arguments" => {
                    language == Language::Jsonata && matches!(type_name, "Task" | "Parallel")
                }
                "Items" => language == Language::Jsonata && type_name == "Map",
                _ => false,
            };
            let wrong_language = other_language(key, language);
            if wrong_language.is_none()
                && (COMMON_FIELDS.contains(&key.as_str())
                    || allowed.contains(&key.as_str())
                    || extra)
            {
                continue;
            }
            let message = if let Some(message) = wrong_language {
                message
            } else if let Some(message) = unsupported_field(key, value) {
                message
            } else if matches!(key.as_str(), "Next" | "End") {
                match type_name {
                    "Choice" => "a Choice state has no Next or End; its Choices and Default pick the next state"
                        .to_owned(),
                    _ => format!("a {type_name} state ends its machine and has no Next or End"),
                }
            } else if is_state_field(key) {
                format!("is not allowed in a {type_name} state")
            } else {
                format!("unknown field in a {type_name} state")
            };
            self.report(Some(path), key, message);
        }
    }

    /// Reports the fields of a nested object that are not in `allowed`; `prefix` locates the
    /// object inside the state (`"Retry[0]."`).
    fn check_fields(
        &mut self,
        state: Option<&str>,
        prefix: &str,
        entries: &[(String, Node)],
        allowed: &[&str],
        place: &str,
    ) {
        for (key, value) in entries {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let message = other_language(key, self.language)
                .or_else(|| unsupported_field(key, value))
                .unwrap_or_else(|| format!("unknown field in {place}"));
            self.report(state, &format!("{prefix}{key}"), message);
        }
    }

    /// Checks a `QueryLanguage` field where one is allowed.
    fn query_language(
        &mut self,
        state: Option<&str>,
        entries: &[(String, Node)],
    ) -> Option<Language> {
        match get(entries, "QueryLanguage") {
            None => None,
            Some(Node::String(language)) if language == "JSONPath" => Some(Language::JsonPath),
            Some(Node::String(language)) if language == "JSONata" => Some(Language::Jsonata),
            Some(_) => {
                self.report(state, "QueryLanguage", "must be \"JSONPath\" or \"JSONata\"");
                None
            }
        }
    }

    /// `Next` and `End` of the state types that have them.
    fn transition(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Transition> {
        let at = Some(path);
        let end = match get(entries, "End") {
            None => Ok(false),
            Some(Node::Bool(end)) => Ok(*end),
            Some(other) => {
                Err(self.report(at, "End", format!("must be a boolean, found {}", other.kind())))
            }
        };
        let next = match get(entries, "Next") {
            None => Ok(None),
            Some(Node::String(next)) => Ok(Some(next.clone())),
            Some(other) => Err(self.report(
                at,
                "Next",
                format!("must be a state name, found {}", other.kind()),
            )),
        };
        match (end?, next?) {
            (true, Some(_)) => {
                Err(self.report(at, "End", "a state cannot have both \"End\": true and Next"))
            }
            (true, None) => Ok(Transition::End),
            (false, Some(next)) => Ok(Transition::Next(next)),
            (false, None) => {
                Err(self.report(at, "Next", "is required unless the state has \"End\": true"))
            }
        }
    }

    /// The input and output fields the state type allows.
    fn io(&mut self, path: &str, type_name: &str, entries: &[(String, Node)]) -> Parsed<Io> {
        let at = Some(path);
        if self.language == Language::Jsonata {
            let arguments = match type_name {
                "Task" | "Parallel" => {
                    self.jsonata_template(at, "Arguments", get(entries, "Arguments"))
                }
                _ => Ok(None),
            };
            let output = match type_name {
                "Fail" => Ok(None),
                _ => self.jsonata_template(at, "Output", get(entries, "Output")),
            };
            return Ok(Io { arguments: arguments?, output: output?, ..Io::default() });
        }
        let has_io_paths = type_name != "Fail";
        let has_parameters = matches!(type_name, "Pass" | "Task" | "Parallel");
        let has_result_selector = matches!(type_name, "Task" | "Parallel" | "Map");
        let has_result_path = matches!(type_name, "Pass" | "Task" | "Parallel" | "Map");
        let input_path = match has_io_paths {
            true => self.path_field(at, "InputPath", get(entries, "InputPath"), ANY_PATH),
            false => Ok(PathField::Default),
        };
        let output_path = match has_io_paths {
            true => self.path_field(at, "OutputPath", get(entries, "OutputPath"), ANY_PATH),
            false => Ok(PathField::Default),
        };
        let parameters = match has_parameters {
            true => self.opt_template(at, "Parameters", get(entries, "Parameters")),
            false => Ok(None),
        };
        let result_selector = match has_result_selector {
            true => self.opt_template(at, "ResultSelector", get(entries, "ResultSelector")),
            false => Ok(None),
        };
        let result_path = match has_result_path {
            true => self.path_field(at, "ResultPath", get(entries, "ResultPath"), RESULT_PATH),
            false => Ok(PathField::Default),
        };
        Ok(Io {
            input_path: input_path?,
            output_path: output_path?,
            parameters: parameters?,
            result_selector: result_selector?,
            result_path: result_path?,
            arguments: None,
            output: None,
        })
    }

    /// A Choice state's own fields.
    fn choice(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Choice> {
        let at = Some(path);
        let rules = match get(entries, "Choices") {
            Some(Node::Array(rules)) if !rules.is_empty() => Ok(rules),
            Some(Node::Array(_)) => {
                Err(self.report(at, "Choices", "must hold at least one Choice rule"))
            }
            Some(other) => Err(self.report(
                at,
                "Choices",
                format!("must be an array of Choice rules, found {}", other.kind()),
            )),
            None => Err(self.report(at, "Choices", "is required")),
        };
        let default = self.opt_string(at, "", "Default", entries);
        let rules = rules?;
        let mut choices = Vec::with_capacity(rules.len());
        let mut complete = true;
        for (position, rule) in rules.iter().enumerate() {
            let field = format!("Choices[{position}]");
            let Some(rule_entries) = rule.as_object() else {
                self.report(
                    at,
                    &field,
                    format!("must be an object (a Choice rule), found {}", rule.kind()),
                );
                complete = false;
                continue;
            };
            let mut usable = true;
            for (key, value) in rule_entries {
                let message =
                    other_language(key, self.language).or_else(|| unsupported_field(key, value));
                if let Some(message) = message {
                    self.report(at, &format!("{field}.{key}"), message);
                    usable = false;
                }
            }
            let next = match get(rule_entries, "Next") {
                Some(Node::String(next)) => Some(next.clone()),
                Some(other) => {
                    self.report(
                        at,
                        &format!("{field}.Next"),
                        format!("must be a state name, found {}", other.kind()),
                    );
                    None
                }
                None => {
                    self.report(
                        at,
                        &format!("{field}.Next"),
                        "is required in a top-level Choice rule",
                    );
                    None
                }
            };
            let assign = self.assign(at, &format!("{field}.Assign"), get(rule_entries, "Assign"));
            let test = match (usable, self.language) {
                (false, _) => Err(Reported),
                (true, Language::JsonPath) => {
                    let mut value = rule.to_value();
                    if let Value::Object(object) = &mut value {
                        object.remove("Assign");
                    }
                    ChoiceRule::parse(&value, true)
                        .map(|rule| (Some(rule), None))
                        .map_err(|message| self.report(at, &field, message))
                }
                (true, Language::Jsonata) => {
                    for (key, _) in rule_entries {
                        if !matches!(
                            key.as_str(),
                            "Condition" | "Next" | "Assign" | "Output" | "Comment"
                        ) {
                            self.report(
                                at,
                                &format!("{field}.{key}"),
                                "unknown field in a JSONata Choice rule",
                            );
                        }
                    }
                    match get(rule_entries, "Condition") {
                        Some(node) => self
                            .jsonata_expression(at, &format!("{field}.Condition"), node)
                            .map(|condition| (None, Some(condition))),
                        None => Err(self.report(at, &format!("{field}.Condition"), "is required")),
                    }
                }
            };
            let output = match self.language {
                Language::Jsonata => self.jsonata_template(
                    at,
                    &format!("{field}.Output"),
                    get(rule_entries, "Output"),
                ),
                Language::JsonPath => Ok(None),
            };
            match (next, test, assign, output) {
                (Some(next), Ok((rule, condition)), Ok(assign), Ok(output)) => {
                    choices.push(ChoiceBranch { rule, condition, next, assign, output })
                }
                _ => complete = false,
            }
        }
        if !complete {
            return Err(Reported);
        }
        Ok(Choice { choices, default: default? })
    }

    /// A Wait state's own fields: exactly one of four.
    fn wait(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Wait> {
        let at = Some(path);
        let present: Vec<(&str, &Node)> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter_map(|key| get(entries, key).map(|node| (key, node)))
            .collect();
        let (key, node) = match present.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.report(
                    at,
                    "Seconds",
                    "a Wait state needs one of Seconds, SecondsPath, Timestamp or TimestampPath",
                ));
            }
            [_, (second, _), ..] => {
                let message = format!(
                    "a Wait state takes exactly one of Seconds, SecondsPath, Timestamp or \
                     TimestampPath, found {}",
                    present.iter().map(|(key, _)| *key).collect::<Vec<_>>().join(", ")
                );
                return Err(self.report(at, second, message));
            }
        };
        if let Node::String(text) = node
            && self.language == Language::Jsonata
            && crate::jsonata::is_expression(text)
        {
            let expression = self.jsonata_expression(at, key, node)?;
            return Ok(match key {
                "Seconds" => Wait::SecondsExpr(expression),
                _ => Wait::TimestampExpr(expression),
            });
        }
        match key {
            "Seconds" => self.int(at, key, node, 0, MAX_SECONDS).map(Wait::Seconds),
            "Timestamp" => match node {
                Node::String(text) => parse_timestamp(text)
                    .map(Wait::Timestamp)
                    .map_err(|message| self.report(at, key, message)),
                other => Err(self.report(
                    at,
                    key,
                    format!("must be a timestamp string, found {}", other.kind()),
                )),
            },
            "SecondsPath" => self.value_path(at, key, node).map(Wait::SecondsPath),
            _ => self.value_path(at, key, node).map(Wait::TimestampPath),
        }
    }

    /// A Fail state's own fields.
    fn fail(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Fail> {
        let at = Some(path);
        let error = self.opt_string(at, "", "Error", entries);
        let cause = self.opt_string(at, "", "Cause", entries);
        let error_path = self.string_source(at, "ErrorPath", get(entries, "ErrorPath"));
        let cause_path = self.string_source(at, "CausePath", get(entries, "CausePath"));
        for (literal, dynamic) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
            if get(entries, literal).is_some() && get(entries, dynamic).is_some() {
                self.report(at, dynamic, format!("cannot be given together with {literal}"));
            }
        }
        let mut expression = |key: &str, text: &Parsed<Option<String>>| match text {
            Ok(Some(text))
                if crate::jsonata::is_expression(text) && self.language == Language::Jsonata =>
            {
                Expression::parse(text).map(Some).map_err(|message| self.report(at, key, message))
            }
            _ => Ok(None),
        };
        let error_expr = expression("Error", &error);
        let cause_expr = expression("Cause", &cause);
        let (error_expr, cause_expr) = (error_expr?, cause_expr?);
        let literal =
            |text: Parsed<Option<String>>, parsed: bool| text.map(|t| t.filter(|_| !parsed));
        Ok(Fail {
            error: literal(error, error_expr.is_some())?,
            error_path: error_path?,
            cause: literal(cause, cause_expr.is_some())?,
            cause_path: cause_path?,
            error_expr,
            cause_expr,
        })
    }

    /// A Fail state's `ErrorPath` or `CausePath`: a Reference Path or an intrinsic function.
    fn string_source(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: Option<&Node>,
    ) -> Parsed<Option<StringSource>> {
        match node {
            None => Ok(None),
            Some(Node::String(text)) if looks_like_intrinsic(text) => Intrinsic::parse(text)
                .map(|function| Some(StringSource::Intrinsic(function)))
                .map_err(|message| self.report(at, field, message)),
            Some(Node::String(text)) => self
                .json_path(at, field, text, REFERENCE_PATH)
                .map(|path| Some(StringSource::Path(path))),
            Some(other) => Err(self.report(
                at,
                field,
                format!("must be a path or an intrinsic function, found {}", other.kind()),
            )),
        }
    }

    /// A Parallel state's own fields.
    fn parallel(&mut self, path: &str, entries: &[(String, Node)]) -> Parsed<Parallel> {
        let at = Some(path);
        let branches = match get(entries, "Branches") {
            Some(Node::Array(branches)) if !branches.is_empty() => Ok(branches),
            Some(Node::Array(_)) => {
                Err(self.report(at, "Branches", "must hold at least one branch"))
            }
            Some(other) => Err(self.report(
                at,
                "Branches",
                format!("must be an array of branches, found {}", other.kind()),
            )),
            None => Err(self.report(at, "Branches", "is required")),
        };
        let retry = self.retriers(path, entries);
        let catch = self.catchers(path, entries);
        let mut machines = Vec::new();
        let mut complete = true;
        for (position, branch) in branches?.iter().enumerate() {
            let scope = format!("{path}/Branches[{position}]");
            let Some(branch_entries) = branch.as_object() else {
                self.report(
                    at,
                    &format!("Branches[{position}]"),
                    format!("must be an object with StartAt and States, found {}", branch.kind()),
                );
                complete = false;
                continue;
            };
            self.check_fields(Some(&scope), "", branch_entries, BRANCH_FIELDS, "a Parallel branch");
            match self.machine(branch_entries, Some(&scope)) {
                Ok(machine) => machines.push(machine),
                Err(Reported) => complete = false,
            }
        }
        if !complete {
            return Err(Reported);
        }
        Ok(Parallel { branches: machines, retry: retry?, catch: catch? })
    }

    /// An integer field `key` and its `{key}Path` twin, at most one of them; `prefix` locates the
    /// object inside the state.
    fn dynamic_int(
        &mut self,
        at: Option<&str>,
        prefix: &str,
        entries: &[(String, Node)],
        key: &str,
        min: u64,
        max: u64,
    ) -> Parsed<Option<Dynamic<u64>>> {
        let path_key = format!("{key}Path");
        match (get(entries, key), get(entries, &path_key)) {
            (Some(_), Some(_)) => Err(self.report(
                at,
                &format!("{prefix}{path_key}"),
                format!("cannot be given together with {key}"),
            )),
            (Some(node), None) => {
                match self.dynamic_expression(at, &format!("{prefix}{key}"), node) {
                    Some(expression) => expression.map(|e| Some(Dynamic::Expression(e))),
                    None => self
                        .int(at, &format!("{prefix}{key}"), node, min, max)
                        .map(|value| Some(Dynamic::Fixed(value))),
                }
            }
            (None, Some(node)) => self
                .value_path(at, &format!("{prefix}{path_key}"), node)
                .map(|path| Some(Dynamic::Path(path))),
            (None, None) => Ok(None),
        }
    }

    /// A JSONata state's numeric field written as a `{% … %}` expression (`None` when the
    /// state is JSONPath or the field is not an expression string).
    pub(super) fn dynamic_expression(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: &Node,
    ) -> Option<Parsed<Expression>> {
        match node {
            Node::String(text)
                if self.language == Language::Jsonata && crate::jsonata::is_expression(text) =>
            {
                Some(self.jsonata_expression(at, field, node))
            }
            _ => None,
        }
    }

    /// An integer in `min..=max`.
    fn int(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: &Node,
        min: u64,
        max: u64,
    ) -> Parsed<u64> {
        let found = match node {
            Node::Number(number) => match number.as_u64() {
                Some(value) if (min..=max).contains(&value) => return Ok(value),
                _ => number.to_string(),
            },
            other => other.kind().to_owned(),
        };
        let range = if max == u64::MAX {
            format!("at least {min}")
        } else {
            format!("from {min} to {max}")
        };
        Err(self.report(at, field, format!("must be an integer {range}, found {found}")))
    }

    /// A number in `min..=max` (no upper bound if `max` is `None`).
    fn number(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: &Node,
        min: f64,
        max: Option<f64>,
    ) -> Parsed<f64> {
        let found = match node {
            Node::Number(number) => match number.as_f64() {
                Some(value) if value >= min && max.is_none_or(|max| value <= max) => {
                    return Ok(value);
                }
                _ => number.to_string(),
            },
            other => other.kind().to_owned(),
        };
        let range = match max {
            Some(max) => format!("from {min:?} to {max:?}"),
            None => format!("of at least {min:?}"),
        };
        Err(self.report(at, field, format!("must be a number {range}, found {found}")))
    }

    /// An optional string field of an object; `prefix` locates the object inside the state.
    fn opt_string(
        &mut self,
        at: Option<&str>,
        prefix: &str,
        key: &str,
        entries: &[(String, Node)],
    ) -> Parsed<Option<String>> {
        match get(entries, key) {
            None => Ok(None),
            Some(Node::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.report(
                at,
                &format!("{prefix}{key}"),
                format!("must be a string, found {}", other.kind()),
            )),
        }
    }

    /// A path field that may be absent or `null`.
    fn path_field(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: Option<&Node>,
        rule: PathRule,
    ) -> Parsed<PathField> {
        match node {
            None => Ok(PathField::Default),
            Some(Node::Null) => Ok(PathField::Null),
            Some(Node::String(text)) => self.json_path(at, field, text, rule).map(PathField::Path),
            Some(other) => Err(self.report(
                at,
                field,
                format!("must be a path or null, found {}", other.kind()),
            )),
        }
    }

    /// The `...Path` twin of a number or timestamp.
    fn value_path(&mut self, at: Option<&str>, field: &str, node: &Node) -> Parsed<JsonPath> {
        match node {
            Node::String(text) => self.json_path(at, field, text, VALUE_PATH),
            other => Err(self.report(at, field, format!("must be a path, found {}", other.kind()))),
        }
    }

    /// Parses a path and checks it against `rule`.
    fn json_path(
        &mut self,
        at: Option<&str>,
        field: &str,
        text: &str,
        rule: PathRule,
    ) -> Parsed<JsonPath> {
        let path = JsonPath::parse(text).map_err(|message| {
            self.report(at, field, format!("{text:?} is not a valid path: {message}"))
        })?;
        if !rule.context && path.variable().is_some() {
            return Err(self.report(
                at,
                field,
                format!("{text:?} reads a workflow variable, which this field cannot"),
            ));
        }
        if !rule.context && path.is_context() {
            return Err(self.report(
                at,
                field,
                format!("{text:?} reads the Context Object ($$), which this field cannot"),
            ));
        }
        if rule.reference && !path.is_reference() {
            return Err(self.report(
                at,
                field,
                format!("{text:?} must be a Reference Path: a single node, without wildcards, filters, slices or unions"),
            ));
        }
        Ok(path)
    }

    /// An optional payload template.
    fn opt_template(
        &mut self,
        at: Option<&str>,
        field: &str,
        node: Option<&Node>,
    ) -> Parsed<Option<PayloadTemplate>> {
        match node {
            None => Ok(None),
            Some(node) => self.template(at, field, node).map(Some),
        }
    }

    /// A payload template: a JSON object parsed by `jsonpath::payload`.
    fn template(&mut self, at: Option<&str>, field: &str, node: &Node) -> Parsed<PayloadTemplate> {
        match node {
            Node::Object(_) => PayloadTemplate::parse(&node.to_value())
                .map_err(|message| self.report(at, field, message)),
            other => Err(self.report(
                at,
                field,
                format!("must be an object (a payload template), found {}", other.kind()),
            )),
        }
    }
}

/// The `States` object of a Parallel branch or Map processor, if it has one.
/// The variable names a state's `Assign` blocks set, each with its field (`Assign`,
/// `Choices[0].Assign`, `Catch[1].Assign`); JSONPath names keep their `.$`.
fn assigned_names(fields: &[(String, Node)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut block = |field: String, node: Option<&Node>| {
        if let Some(entries) = node.and_then(Node::as_object) {
            out.extend(entries.iter().map(|(key, _)| (field.clone(), key.clone())));
        }
    };
    block("Assign".to_owned(), get(fields, "Assign"));
    for list in ["Choices", "Catch"] {
        if let Some(Node::Array(items)) = get(fields, list) {
            for (position, item) in items.iter().enumerate() {
                let assign = item.as_object().and_then(|entries| get(entries, "Assign"));
                block(format!("{list}[{position}].Assign"), assign);
            }
        }
    }
    out
}

fn nested_states(node: &Node) -> Option<&[(String, Node)]> {
    node.as_object().and_then(|entries| get(entries, "States")).and_then(Node::as_object)
}

/// The integration of an `arn:<partition>:states:::<integration>` resource, such as
/// `lambda:invoke` or `s3:getObject`. Placeholders are allowed in the partition.
fn states_integration(resource: &str) -> Option<String> {
    let masked = mask_placeholders(resource);
    let (partition, rest) = masked.strip_prefix("arn:")?.split_once(':')?;
    if partition.is_empty() {
        return None;
    }
    rest.strip_prefix("states:::").map(str::to_owned)
}

/// `text` with every `${Name}` placeholder replaced by a word without colons, so ARN parts can be
/// split on `:` even when a placeholder fills one.
fn mask_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_placeholder_name(&after[..end]) => {
                out.push_str(&rest[..start]);
                out.push_str("PLACEHOLDER");
                rest = &after[end + 1..];
            }
            Some(_) => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Parses a Wait `Timestamp`: RFC 3339 with an uppercase `T` and an uppercase `Z` or a numeric
/// offset.
pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let uppercase = text.as_bytes().get(10) == Some(&b'T') && !text.ends_with('z');
    match DateTime::parse_from_rfc3339(text) {
        Ok(time) if uppercase => Ok(time),
        _ => Err(format!(
            "{text:?} is not an RFC 3339 timestamp with an uppercase T and a Z or numeric offset, \
             such as \"2016-03-14T01:59:00Z\""
        )),
    }
}
