//! The static history budget: for a definition, an item count and an assumed number of failed
//! attempts per task, the worst-case number of history events of every execution it starts,
//! parent and Distributed Map children alike.
//!
//! The arithmetic is the interpreter's (§1.2–1.4 of the project's Step Functions reference
//! notes, the event sequences recorded from AWS histories): Pass/Choice/Wait/Succeed 2 events,
//! Fail 1, a Lambda task 5 + 3 per failed attempt, a `.sync` task 6 + 4 per failed attempt,
//! Parallel 4 + its branches, an inline Map 4 + per item (2 + its processor), a Distributed Map 6
//! in the parent and one child execution (2 + its processor) per item or batch. A Choice takes its
//! most expensive branch; a cycle makes the budget unbounded, which is reported as an error.

use std::collections::{BTreeMap, HashSet};

use crate::asl::{
    Dynamic, ExecMode, Map, MapMode, Resource, State, StateKind, StateMachine, Transition,
};

/// What the budget assumes.
#[derive(Debug, Clone, Default)]
pub struct BudgetInput {
    /// Items read by a Distributed Map (e.g. files under the prefix), and the default item count
    /// of inline Maps outside Distributed children.
    pub items: u64,
    /// Failed attempts per task execution (capped by what the task's retriers allow).
    pub retries: u32,
    /// Item counts of specific inline Map states, by state name.
    pub map_items: BTreeMap<String, u64>,
    /// The batch size of Distributed Maps whose `MaxItemsPerBatchPath` is read at run time.
    pub batch_size: Option<u64>,
    /// Machines that `states:startExecution` tasks start, by name: each runs with the item
    /// count of the Map iteration or batch it was started from (the worst case over them).
    pub nested: Vec<(String, StateMachine)>,
}

/// The worst case of one kind of execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionBudget {
    /// `parent` or `parent/<Label>` for Distributed Map children.
    pub execution: String,
    /// How many such executions run.
    pub count: u64,
    /// Worst-case events in each.
    pub events: u64,
}

/// Why a budget cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BudgetError(pub String);

struct Walker<'a> {
    input: &'a BudgetInput,
    executions: Vec<ExecutionBudget>,
    /// How many times the machine being walked runs in total.
    multiplicity: u64,
}

impl Walker<'_> {
    /// Events of one machine run with `items` as the item count of Maps over the input.
    fn machine(
        &mut self,
        machine: &StateMachine,
        path: &str,
        items: u64,
    ) -> Result<u64, BudgetError> {
        let mut visiting = HashSet::new();
        self.from(machine, &machine.start_at, path, items, &mut visiting)
    }

    fn from(
        &mut self,
        machine: &StateMachine,
        name: &str,
        path: &str,
        items: u64,
        visiting: &mut HashSet<String>,
    ) -> Result<u64, BudgetError> {
        if !visiting.insert(name.to_owned()) {
            return Err(BudgetError(format!(
                "{path}: state \"{name}\" is on a cycle, so the number of history events is unbounded"
            )));
        }
        let state = machine
            .state(name)
            .ok_or_else(|| BudgetError(format!("{path}: no state named \"{name}\"")))?;
        let own = self.state(state, path, items)?;
        let mut targets: Vec<String> = match &state.kind {
            StateKind::Choice(choice) => {
                let mut t: Vec<String> = choice.choices.iter().map(|b| b.next.clone()).collect();
                t.extend(choice.default.clone());
                t
            }
            _ => match &state.transition {
                Transition::Next(next) => vec![next.clone()],
                _ => Vec::new(),
            },
        };
        // A caught error continues at the catcher's target: the worst case takes it too.
        let catchers = match &state.kind {
            StateKind::Task(task) => &task.catch[..],
            StateKind::Parallel(parallel) => &parallel.catch[..],
            StateKind::Map(map) => &map.catch[..],
            _ => &[],
        };
        targets.extend(catchers.iter().map(|c| c.next.clone()));
        targets.sort();
        targets.dedup();
        let mut worst = 0;
        for target in targets {
            worst = worst.max(self.from(machine, &target, path, items, visiting)?);
        }
        visiting.remove(name);
        Ok(own + worst)
    }

    fn failed_attempts(&self, retry: &[crate::asl::Retrier]) -> u64 {
        let allowed: u64 = retry.iter().map(|r| u64::from(r.max_attempts)).sum();
        u64::from(self.input.retries).min(allowed)
    }

    fn state(&mut self, state: &State, path: &str, items: u64) -> Result<u64, BudgetError> {
        Ok(match &state.kind {
            StateKind::Pass { .. }
            | StateKind::Choice(_)
            | StateKind::Wait(_)
            | StateKind::Succeed => 2,
            StateKind::Fail(_) => 1,
            StateKind::Task(task) => {
                let r = self.failed_attempts(&task.retry);
                if let Resource::StartExecution { .. } = task.resource {
                    self.nested(state, path, items)?;
                }
                match task.resource {
                    Resource::StartExecution { mode: ExecMode::Sync | ExecMode::Sync2 } => {
                        6 + 4 * r
                    }
                    _ => 5 + 3 * r,
                }
            }
            StateKind::Parallel(parallel) => {
                let mut total = 4;
                for (i, branch) in parallel.branches.iter().enumerate() {
                    total += self.machine(branch, &format!("{path}/{}[{i}]", state.name), items)?;
                }
                total
            }
            StateKind::Map(map) => self.map(state, map, path, items)?,
        })
    }

    /// Records the executions a startExecution task starts (each nested machine, run with the
    /// current item count), once per run of the machine being walked.
    fn nested(&mut self, state: &State, path: &str, items: u64) -> Result<(), BudgetError> {
        let nested: Vec<(String, StateMachine)> = self.input.nested.clone();
        for (name, machine) in &nested {
            let nested_path = format!("{path}/{} -> {name}", state.name);
            let count = self.multiplicity;
            let events = 2 + self.machine(machine, &nested_path, items)?;
            self.executions.push(ExecutionBudget { execution: nested_path, count, events });
        }
        Ok(())
    }

    fn map(
        &mut self,
        state: &State,
        map: &Map,
        path: &str,
        items: u64,
    ) -> Result<u64, BudgetError> {
        match map.mode {
            MapMode::Inline => {
                let n = self.input.map_items.get(&state.name).copied().unwrap_or(items);
                let saved = self.multiplicity;
                self.multiplicity = saved.saturating_mul(n.max(1));
                let body = self.machine(&map.processor, &format!("{path}/{}", state.name), items);
                self.multiplicity = saved;
                Ok(4 + n * (2 + body?))
            }
            MapMode::Distributed { .. } => {
                let total =
                    self.input.map_items.get(&state.name).copied().unwrap_or(self.input.items);
                let batch = match map.item_batcher.as_ref().and_then(|b| b.max_items_per_batch.as_ref()) {
                    Some(Dynamic::Fixed(n)) => (*n).max(1),
                    Some(p) => self.input.batch_size.map(|b| b.max(1)).ok_or_else(|| {
                        BudgetError(format!(
                            "{path}/{}: {} {} is read at run time; give the batch size (--batch-size)",
                            state.name,
                            if matches!(p, Dynamic::Path(_)) { "MaxItemsPerBatchPath" } else { "MaxItemsPerBatch" },
                            p.source()
                        ))
                    })?,
                    None => 1,
                };
                let children = total.div_ceil(batch);
                let label = map.label.clone().unwrap_or_else(|| state.name.clone());
                let child_path = format!("{path}/{label}");
                let saved = self.multiplicity;
                self.multiplicity = saved.saturating_mul(children);
                let per_child = self.machine(&map.processor, &child_path, batch.min(total.max(1)));
                self.multiplicity = saved;
                let per_child = 2 + per_child?;
                self.executions.push(ExecutionBudget {
                    execution: child_path,
                    count: children.saturating_mul(saved),
                    events: per_child,
                });
                Ok(6)
            }
        }
    }
}

/// Computes the worst-case history of the parent execution and of every kind of child.
pub fn history_budget(
    machine: &StateMachine,
    input: &BudgetInput,
) -> Result<Vec<ExecutionBudget>, BudgetError> {
    let mut walker = Walker { input, executions: Vec::new(), multiplicity: 1 };
    let parent = 2 + walker.machine(machine, "parent", input.items)?;
    let mut all = vec![ExecutionBudget { execution: "parent".into(), count: 1, events: parent }];
    // The same child can be reached along several Choice paths: keep one row, the worst case.
    for entry in walker.executions {
        match all.iter_mut().find(|e| e.execution == entry.execution) {
            Some(existing) => {
                existing.count = existing.count.max(entry.count);
                existing.events = existing.events.max(entry.events);
            }
            None => all.push(entry),
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use serde_json::{Value, json};

    use super::*;
    use crate::engine::{Engine, EngineOptions};
    use crate::resolve::{FunctionError, Functions, MemoryStore};

    fn machine(definition: Value) -> StateMachine {
        StateMachine::from_json(&definition.to_string(), "budget.asl.json")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn task(retry_attempts: u32) -> Value {
        json!({
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${F}", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": retry_attempts}],
            "End": true
        })
    }

    /// Every invocation fails `retries` times before it succeeds (by payload identity).
    fn flaky(retries: u64) -> Functions {
        let seen = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, u64>::new()));
        let calls = Arc::new(AtomicU64::new(0));
        let mut functions = Functions::new();
        functions.register(
            "F",
            Arc::new(move |payload: Value| {
                calls.fetch_add(1, Ordering::Relaxed);
                let attempts = seen
                    .lock()
                    .map(|mut s| {
                        let n = s.entry(payload.to_string()).or_insert(0);
                        *n += 1;
                        *n
                    })
                    .unwrap_or(0);
                async move {
                    if attempts <= retries {
                        Err(FunctionError::new("Transient", "again"))
                    } else {
                        Ok(payload)
                    }
                }
            }),
            None,
        );
        functions
    }

    #[test]
    fn formulas_of_the_reference() -> Result<(), BudgetError> {
        // Reference §1.4: inline Map of N one-task items = 6 + N·(7 + 3r).
        let inline = machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": task(6)}}, "End": true}}}),
        );
        for (n, r, expected) in [(3570, 0, 6 + 3570 * 7), (100, 2, 6 + 100 * 13)] {
            let budget = history_budget(
                &inline,
                &BudgetInput { items: n, retries: r, ..BudgetInput::default() },
            )?;
            assert_eq!(budget[0].events, expected);
        }
        // Retries are capped by what the retriers allow.
        let capped = machine(json!({"StartAt": "T", "States": {"T": task(1)}}));
        let budget = history_budget(
            &capped,
            &BudgetInput { items: 1, retries: 5, ..BudgetInput::default() },
        )?;
        assert_eq!(budget[0].events, 2 + 5 + 3);
        Ok(())
    }

    #[test]
    fn cycles_are_unbounded() {
        let looped = machine(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "C"}], "Default": "A"},
            "C": {"Type": "Succeed"}
        }}));
        let error =
            history_budget(&looped, &BudgetInput::default()).err().map(|e| e.0).unwrap_or_default();
        assert!(error.contains("is on a cycle"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn budget_agrees_exactly_with_the_interpreter() -> Result<(), BudgetError> {
        // An inline Map of 10 items, each task failing twice: budget and history must agree.
        let inline = machine(json!({"StartAt": "Pick", "States": {
            "Pick": {"Type": "Choice", "Choices": [{"Variable": "$[0]", "IsPresent": true, "Next": "M"}], "Default": "Done"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": task(3)}}, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }}));
        let items: Vec<Value> = (0..10).map(|i| json!({"i": i})).collect();
        let engine =
            Engine::builder().functions(flaky(2)).options(EngineOptions::default()).build();
        let execution = engine.run("m", &inline, Value::Array(items), "e").await;
        let budget = history_budget(
            &inline,
            &BudgetInput { items: 10, retries: 2, ..BudgetInput::default() },
        )?;
        assert_eq!(execution.history.len() as u64, budget[0].events);

        // A Distributed Map over 45 objects in batches of 10, each child an inline Map of tasks.
        let store = Arc::new(MemoryStore::new());
        for i in 0..45 {
            store.insert("b", &format!("raw/{i:03}"), vec![]);
        }
        let distributed = machine(json!({"StartAt": "D", "States": {"D": {
            "Type": "Map", "Label": "Files",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "raw/"}},
            "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
            "ItemBatcher": {"MaxItemsPerBatch": 10},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Each",
                "States": {"Each": {"Type": "Map", "ItemsPath": "$.Items", "ItemProcessor": {"StartAt": "T", "States": {"T": task(3)}}, "End": true}}},
            "End": true
        }}}));
        let engine = Engine::builder()
            .functions(flaky(1))
            .store(store)
            .options(EngineOptions::default())
            .build();
        let execution = engine.run("p", &distributed, json!({}), "e").await;
        let budget = history_budget(
            &distributed,
            &BudgetInput { items: 45, retries: 1, ..BudgetInput::default() },
        )?;
        assert_eq!(execution.history.len() as u64, budget[0].events);
        let children: Vec<usize> = engine
            .executions()
            .iter()
            .filter(|e| e.state_machine == "p/Files")
            .map(|e| e.events)
            .collect();
        assert_eq!(children.len() as u64, budget[1].count);
        // Full batches match the budget exactly; the last batch holds 5 items, so it is smaller.
        assert_eq!(children.iter().filter(|e| **e as u64 == budget[1].events).count(), 4);
        assert_eq!(budget[1].events, 2 + 4 + 10 * (2 + 5 + 3));
        Ok(())
    }
}
