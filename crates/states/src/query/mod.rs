//! The query-language seam: every step of a state's input and output processing that depends on
//! the query language goes through [`QueryLanguage`], so the engine's state code never evaluates
//! a path, a payload template, an intrinsic function or a Choice rule itself.
//!
//! What goes through it: `InputPath`, `Parameters`, `ResultSelector`, `ResultPath` and
//! `OutputPath` (and a catcher's `ResultPath`), Choice rules, a Map's `ItemsPath` and
//! `ItemSelector`, payload templates of ItemReader/ResultWriter/`BatchInput`, run-time `…Path`
//! fields (`SecondsPath`, `TimeoutSecondsPath`, `MaxConcurrencyPath`, ...) and a Fail state's
//! `ErrorPath`/`CausePath`. [`language`] picks the implementation for a state.
//!
//! JSONPath, the default query language, lives behind it in [`jsonpath`], which applies the
//! crate's `jsonpath` language module (paths, payload templates, the 18 intrinsic functions,
//! Choice rules; parsed at load time and held by the `asl` model, so it sits below both).
//!
//! JSONata lives in [`jsonata`] (`Arguments`, `Output`, `{% ... %}` expressions, `Condition`,
//! `Items`), applying the crate-level `jsonata` module; [`language`] picks by the state's
//! `QueryLanguage`. Workflow variables (`Assign`) live in a [`Frame`] that the [`Scope`]
//! carries: both languages read them and write a state's assignments into it.

pub mod jsonata;
pub mod jsonpath;

use std::sync::Mutex;

use serde_json::{Map as JsonMap, Value};

use crate::asl::{
    Catcher, Choice, ChoiceBranch, Dynamic, Language, Map, Payload, State, StringSource,
};
use crate::error::{StatesError, names};
use crate::jsonata::Expression;
use crate::jsonpath::{JsonPath, PayloadTemplate};
use crate::rng::Rng;

/// Largest serialized value of one variable, and of one `Assign` block (256 KiB).
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;
/// Largest serialized size of all variables of an execution (10 MiB).
pub const MAX_VARIABLES_BYTES: usize = 10 * 1024 * 1024;

/// The workflow variables of one scope (an execution, a Parallel branch or a Map iteration):
/// those visible to the current state, and what the current state assigned, which becomes
/// visible from the next state on ([`Frame::commit`]).
#[derive(Debug, Default)]
pub struct Frame {
    visible: JsonMap<String, Value>,
    pending: Mutex<Option<JsonMap<String, Value>>>,
}

impl Frame {
    /// A scope that starts with `visible` (an inner scope reads its outer scope's variables).
    pub fn new(visible: JsonMap<String, Value>) -> Frame {
        Frame { visible, pending: Mutex::new(None) }
    }

    /// The variables the current state sees.
    pub fn visible(&self) -> &JsonMap<String, Value> {
        &self.visible
    }

    /// A Choice state's own `Assign`: a matched rule's `Assign` wins on a shared name (AWS
    /// recorded only the rule's value: LocalStack `assign/test_assign_base.snapshot.json`,
    /// `test_assign_in_choice[CONDITION_TRUE]`).
    pub fn assign_under(&self, mut values: JsonMap<String, Value>) -> Result<(), StatesError> {
        if let Some(pending) = self.pending() {
            values.retain(|name, _| !pending.contains_key(name));
        }
        self.assign(values)
    }

    /// Records the current state's assignments, checking AWS's size limits.
    pub fn assign(&self, values: JsonMap<String, Value>) -> Result<(), StatesError> {
        let mut total = 0usize;
        for (name, value) in &values {
            let size = value.to_string().len();
            if size > MAX_ASSIGN_BYTES {
                return Err(StatesError::new(
                    names::RUNTIME,
                    format!(
                        "The value of variable '{name}' is {size} bytes, over the {MAX_ASSIGN_BYTES}-byte limit of a variable"
                    ),
                ));
            }
            total += size;
        }
        if total > MAX_ASSIGN_BYTES {
            return Err(StatesError::new(
                names::RUNTIME,
                format!(
                    "The Assign field sets {total} bytes of variables, over the {MAX_ASSIGN_BYTES}-byte limit of one Assign"
                ),
            ));
        }
        let kept: usize = self
            .visible
            .iter()
            .filter(|(name, _)| !values.contains_key(*name))
            .map(|(_, value)| value.to_string().len())
            .sum();
        if kept + total > MAX_VARIABLES_BYTES {
            return Err(StatesError::new(
                names::RUNTIME,
                format!(
                    "The variables would hold {} bytes, over the {MAX_VARIABLES_BYTES}-byte limit of an execution",
                    kept + total
                ),
            ));
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.get_or_insert_with(JsonMap::new).extend(values);
        Ok(())
    }

    /// Drops the current state's assignments (a catcher's `Assign` replaces the state's).
    pub fn clear_pending(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// What the current state assigned so far, if it has an `Assign`.
    pub fn pending(&self) -> Option<JsonMap<String, Value>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes the current state's assignments visible: the next state sees them.
    pub fn commit(&mut self) {
        let pending = self.pending.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(values) = pending {
            self.visible.extend(values);
        }
    }
}

/// What an expression can see besides its input: the context object (`$$`,
/// `$states.context`), the workflow variables and the run's random numbers
/// (`States.MathRandom`, `States.UUID`, `$random`, `$uuid`).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The context object.
    pub context: &'a Value,
    /// The workflow variables of the current scope.
    pub frame: &'a Frame,
    rng: &'a Mutex<Rng>,
}

impl<'a> Scope<'a> {
    /// A scope over a context object, the variables and the engine's random numbers.
    pub fn new(context: &'a Value, rng: &'a Mutex<Rng>, frame: &'a Frame) -> Scope<'a> {
        Scope { context, rng, frame }
    }

    /// The same random numbers and variables under another context object.
    pub fn with_context<'b>(&self, context: &'b Value) -> Scope<'b>
    where
        'a: 'b,
    {
        Scope { context, rng: self.rng, frame: self.frame }
    }

    /// The context object as JSONPath sees it: with the visible variables under
    /// [`crate::jsonpath::path::VARIABLES_KEY`] for `$name` paths.
    pub fn jsonpath_context(&self) -> std::borrow::Cow<'a, Value> {
        let variables = self.frame.visible();
        match self.context {
            Value::Object(object) if !variables.is_empty() => {
                let mut object = object.clone();
                object.insert(
                    crate::jsonpath::path::VARIABLES_KEY.to_owned(),
                    Value::Object(variables.clone()),
                );
                std::borrow::Cow::Owned(Value::Object(object))
            }
            _ => std::borrow::Cow::Borrowed(self.context),
        }
    }

    /// Runs `f` with the random number generator (a poisoned lock is still usable: the state
    /// of a SplitMix64 generator is always valid).
    pub fn with_rng<T>(&self, f: impl FnOnce(&mut Rng) -> T) -> T {
        match self.rng.lock() {
            Ok(mut rng) => f(&mut rng),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// A query language: how a state turns its raw input into what it works on, and its result into
/// its output. One implementation per language; the engine calls only this.
pub trait QueryLanguage: Sync {
    /// The effective input of a state (`InputPath`).
    fn effective_input(
        &self,
        state: &State,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// What a Pass produces, a Task sends or a Parallel's branches receive (`Parameters`; a
    /// Pass state's `Result` wins), from the effective input.
    fn parameters(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The output of a state from its raw input and its result (`ResultSelector`, `ResultPath`,
    /// `OutputPath`).
    fn state_output(
        &self,
        state: &State,
        raw: &Value,
        result: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The output of a state that has no result of its own (Choice, Wait, Succeed:
    /// `OutputPath` of the effective input).
    fn pass_through(
        &self,
        state: &State,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The output of a catcher: the error output `{"Error", "Cause"}` placed into the raw input
    /// (the catcher's `ResultPath`).
    fn catcher_output(
        &self,
        catcher: &Catcher,
        raw: &Value,
        error_output: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The value of a JSONata expression field (Wait `Seconds`/`Timestamp`, Fail
    /// `Error`/`Cause`) against the state's input; `field` names it in errors.
    fn expression(
        &self,
        field: &str,
        expression: &Expression,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The first Choice rule that matches the effective input, if any.
    fn choose<'c>(
        &self,
        choice: &'c Choice,
        effective: &Value,
        scope: &Scope<'_>,
    ) -> Result<Option<&'c ChoiceBranch>, StatesError>;

    /// A Choice state's output and assignments once `matched` (the rule taken, if any) is
    /// known: [`QueryLanguage::pass_through`] unless the rule has its own JSONata `Output`.
    fn choice_output(
        &self,
        state: &State,
        matched: Option<&ChoiceBranch>,
        effective: Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        let _ = matched;
        self.pass_through(state, effective, scope)
    }

    /// The items a Map iterates over without an ItemReader (`ItemsPath`), as a JSON array.
    fn items(&self, map: &Map, effective: &Value, scope: &Scope<'_>) -> Result<Value, StatesError>;

    /// The input of one Map iteration or child (`ItemSelector`, with `$$.Map.Item`).
    fn item_input(
        &self,
        map: &Map,
        effective: &Value,
        scope: &Scope<'_>,
        index: usize,
        item: &Value,
    ) -> Result<Value, StatesError>;

    /// An ItemReader's or ResultWriter's `Parameters`/`Arguments` or a `BatchInput` (`field`)
    /// evaluated on an input.
    fn payload(
        &self,
        field: &str,
        payload: &Payload,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError> {
        match payload {
            Payload::Paths(template) => self.render(template, input, scope),
            Payload::Expressions(template) => jsonata::eval_template(field, template, input, scope),
        }
    }

    /// A payload template rendered against an input (ItemReader and ResultWriter parameters,
    /// `ItemBatcher.BatchInput`).
    fn render(
        &self,
        template: &PayloadTemplate,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// The value of a field read at run time (`SecondsPath`, `MaxItemsPath`, ...); the caller
    /// checks its type.
    fn select(
        &self,
        path: &JsonPath,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;

    /// A string field read at run time (a Fail state's `ErrorPath`/`CausePath`).
    fn string(
        &self,
        source: &StringSource,
        input: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, StatesError>;
}

/// The context object of one Map item: the Map state's context with `Map.Item.Index` and
/// `Map.Item.Value` (`$$.Map.Item…` in JSONPath, `$states.context.Map.Item…` in JSONata).
pub(crate) fn item_context(context: &Value, index: usize, item: &Value) -> Value {
    let mut item_context = context.clone();
    if let Value::Object(object) = &mut item_context {
        object.insert("Map".into(), serde_json::json!({"Item": {"Index": index, "Value": item}}));
    }
    item_context
}

/// The query language a state is written in (its own `QueryLanguage`, else the definition's).
pub fn language(state: &State) -> &'static dyn QueryLanguage {
    match state.language {
        Language::JsonPath => &jsonpath::JsonPathLanguage,
        Language::Jsonata => &jsonata::JsonataLanguage,
    }
}

/// The value of a run-time numeric field (`field`): `None` for a literal, else what its `…Path`
/// selects or its JSONata expression returns (the caller checks the type).
pub fn read_dynamic<T>(
    language: &(impl QueryLanguage + ?Sized),
    field: &str,
    dynamic: &Dynamic<T>,
    input: &Value,
    scope: &Scope<'_>,
) -> Result<Option<Value>, StatesError> {
    match dynamic {
        Dynamic::Fixed(_) => Ok(None),
        Dynamic::Path(path) => language.select(path, input, scope).map(Some),
        Dynamic::Expression(expression) => {
            language.expression(field, expression, input, scope).map(Some)
        }
    }
}
