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
//! **This is where JSONata goes**: a `jsonata` module beside `jsonpath` here that implements
//! [`QueryLanguage`] (`Arguments`, `Output`, `{% ... %}` expressions, `Condition`), the model
//! recording each state's `QueryLanguage`, and [`language`] choosing by it (the expression
//! language itself in a crate-level `jsonata` module beside `jsonpath`). Workflow variables
//! (`Assign`, `$states`) belong in [`Scope`], which is what an expression can see. Until then the
//! definition loader (`asl`) rejects JSONata, so every state is a JSONPath state.

pub mod jsonpath;

use std::sync::Mutex;

use serde_json::Value;

use crate::asl::{Catcher, Choice, Map, State, StringSource};
use crate::error::StatesError;
use crate::jsonpath::{JsonPath, PayloadTemplate};
use crate::rng::Rng;

/// What an expression can see besides its input: the context object (`$$`) and the run's
/// random numbers (`States.MathRandom`, `States.UUID`).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The context object.
    pub context: &'a Value,
    rng: &'a Mutex<Rng>,
}

impl<'a> Scope<'a> {
    /// A scope over a context object and the engine's random numbers.
    pub fn new(context: &'a Value, rng: &'a Mutex<Rng>) -> Scope<'a> {
        Scope { context, rng }
    }

    /// The same random numbers under another context object.
    pub fn with_context<'b>(&self, context: &'b Value) -> Scope<'b>
    where
        'a: 'b,
    {
        Scope { context, rng: self.rng }
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
    ) -> Result<Value, StatesError>;

    /// The `Next` of the first Choice rule that matches the effective input, if any.
    fn choose<'c>(
        &self,
        choice: &'c Choice,
        effective: &Value,
        scope: &Scope<'_>,
    ) -> Result<Option<&'c str>, StatesError>;

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

/// The query language a state is written in. Always JSONPath today: the loader rejects
/// `"QueryLanguage": "JSONata"`; a JSONata implementation is chosen here once it exists.
pub fn language(state: &State) -> &'static dyn QueryLanguage {
    let _ = state;
    &jsonpath::JsonPathLanguage
}
