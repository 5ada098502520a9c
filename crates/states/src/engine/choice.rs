//! The Choice state: the first rule that matches picks `Next`, else `Default`, else
//! `States.NoChoiceMatched`. The rules themselves are the query language's.

use serde_json::Value;

use super::Engine;
use super::execution::Next;
use crate::asl::{Choice, State};
use crate::error::{StatesError, names};
use crate::query::{self, Scope};

impl Engine {
    /// Runs a Choice state: its output is its effective input after `OutputPath`.
    pub(super) fn run_choice(
        &self,
        state: &State,
        choice: &Choice,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<(Value, Next), StatesError> {
        let language = query::language(state);
        let effective = language.effective_input(state, raw, scope)?;
        let matched = language.choose(choice, &effective, scope)?;
        let next = match matched {
            Some(branch) => branch.next.clone(),
            None => match &choice.default {
                Some(default) => default.clone(),
                None => {
                    return Err(StatesError::new(
                        names::NO_CHOICE_MATCHED,
                        format!(
                            "No Matches! (state {}: no choice rule matched and there is no Default)",
                            state.name
                        ),
                    ));
                }
            },
        };
        Ok((language.choice_output(state, matched, effective, scope)?, Next::Goto(next)))
    }
}
