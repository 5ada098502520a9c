//! What an execution has done so far, kept so that a redrive can continue it: for every
//! machine run (the execution itself, each Parallel branch, each inline Map iteration) the state
//! it was in and that state's input, or its output once it finished; for every Distributed Map,
//! its Map Run and each child's outcome.
//!
//! A run records into the execution's current [`Progress`]; a redrive reads the previous
//! attempt's, taking each entry once, so a state that is retried within the redrive starts
//! afresh as it does on AWS.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a machine run sits in its execution: empty for the execution, then one
/// `(state name, branch or iteration index)` step per Parallel branch or Map iteration.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct RunPath(Vec<(String, usize)>);

impl RunPath {
    /// The execution's own run.
    pub(crate) fn root() -> RunPath {
        RunPath::default()
    }

    /// The run of branch or iteration `index` of state `state` inside this run.
    pub(crate) fn child(&self, state: &str, index: usize) -> RunPath {
        let mut steps = self.0.clone();
        steps.push((state.to_owned(), index));
        RunPath(steps)
    }

    /// Whether `self` lies inside state `state` of run `run` (or is that state's Map Run key).
    fn is_inside(&self, run: &RunPath, state: &str) -> bool {
        self.0.len() > run.0.len()
            && self.0[..run.0.len()] == run.0[..]
            && self.0[run.0.len()].0 == state
    }
}

/// Where one machine run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Unit {
    /// It entered `state` with `input` and has not left it.
    At {
        /// The state's name.
        state: String,
        /// The state's raw input.
        input: Value,
        /// The workflow variables the state saw.
        #[serde(default)]
        variables: serde_json::Map<String, Value>,
    },
    /// It finished with this output.
    Done(Value),
}

/// One child of a Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ChildSlot {
    /// Never started.
    Pending,
    /// Succeeded (kept whole: the Map's result and its ResultWriter need it again).
    Succeeded(ChildOutcome),
    /// Did not succeed; a redrive redrives this child execution.
    Failed(ChildOutcome),
}

/// A finished child execution, without its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChildOutcome {
    /// Execution ARN.
    pub(crate) arn: String,
    /// Execution name.
    pub(crate) name: String,
    /// Output on success.
    pub(crate) output: Option<Value>,
    /// Error name on failure.
    pub(crate) error: Option<String>,
    /// Cause on failure.
    pub(crate) cause: Option<String>,
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`.
    pub(crate) status: String,
    /// Start, milliseconds since the epoch.
    pub(crate) start_millis: i64,
    /// Stop, milliseconds since the epoch.
    pub(crate) stop_millis: i64,
    /// How many times it was redriven.
    pub(crate) redrive_count: u32,
}

/// A Distributed Map's Map Run: its identity, every child's input and what each child did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MapRunProgress {
    /// The Map Run ARN.
    pub(crate) arn: String,
    /// Its id (the last part of the ARN; the ResultWriter folder).
    pub(crate) id: String,
    /// Each child's input, in item order (items after ItemSelector and ItemBatcher).
    pub(crate) inputs: Vec<Value>,
    /// Items read (before batching).
    #[serde(default)]
    pub(crate) items: u64,
    /// Each child's outcome, in item order.
    pub(crate) children: Vec<ChildSlot>,
    /// How many times the Map Run was redriven.
    pub(crate) redrive_count: u32,
}

/// Everything an execution has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "SavedProgress", from = "SavedProgress")]
pub(crate) struct Progress {
    units: BTreeMap<RunPath, Unit>,
    map_runs: BTreeMap<RunPath, MapRunProgress>,
}

/// [`Progress`] as JSON, whose object keys can only be strings: lists of pairs.
#[derive(Serialize, Deserialize)]
struct SavedProgress {
    units: Vec<(RunPath, Unit)>,
    map_runs: Vec<(RunPath, MapRunProgress)>,
}

impl From<Progress> for SavedProgress {
    fn from(progress: Progress) -> SavedProgress {
        SavedProgress {
            units: progress.units.into_iter().collect(),
            map_runs: progress.map_runs.into_iter().collect(),
        }
    }
}

impl From<SavedProgress> for Progress {
    fn from(saved: SavedProgress) -> Progress {
        Progress {
            units: saved.units.into_iter().collect(),
            map_runs: saved.map_runs.into_iter().collect(),
        }
    }
}

impl Progress {
    /// Records where a run stands.
    pub(crate) fn set(&mut self, path: &RunPath, unit: Unit) {
        self.units.insert(path.clone(), unit);
    }

    /// Takes where a run stood (a redrive reads each entry once).
    pub(crate) fn take(&mut self, path: &RunPath) -> Option<Unit> {
        self.units.remove(path)
    }

    /// Whether a run had finished, without taking it.
    pub(crate) fn is_done(&self, path: &RunPath) -> bool {
        matches!(self.units.get(path), Some(Unit::Done(_)))
    }

    /// Records a Map Run's state (keyed by the run and state that own it).
    pub(crate) fn set_map_run(&mut self, key: &RunPath, run: MapRunProgress) {
        self.map_runs.insert(key.clone(), run);
    }

    /// Takes a Map Run's state.
    pub(crate) fn take_map_run(&mut self, key: &RunPath) -> Option<MapRunProgress> {
        self.map_runs.remove(key)
    }

    /// Forgets everything inside state `state` of run `run`: once a state has left, a redrive
    /// never goes back into it.
    pub(crate) fn forget_inside(&mut self, run: &RunPath, state: &str) {
        for path in keys_inside(&self.units, run, state) {
            self.units.remove(&path);
        }
        for path in keys_inside(&self.map_runs, run, state) {
            self.map_runs.remove(&path);
        }
    }
}

/// The keys of `map` that lie inside state `state` of run `run` (a range of the ordered keys).
fn keys_inside<V>(map: &BTreeMap<RunPath, V>, run: &RunPath, state: &str) -> Vec<RunPath> {
    map.range(run.child(state, 0)..)
        .map(|(path, _)| path)
        .take_while(|path| path.is_inside(run, state))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_are_taken_once_and_forgotten_when_their_state_leaves() {
        let mut progress = Progress::default();
        let root = RunPath::root();
        let branch = root.child("P", 1);
        let nested = branch.child("M", 3);
        let variables = serde_json::Map::new();
        progress.set(&root, Unit::At { state: "P".into(), input: json!({"a": 1}), variables });
        progress.set(&branch, Unit::Done(json!(2)));
        progress.set(&nested, Unit::Done(json!(3)));
        progress.set(&root.child("Q", 0), Unit::Done(json!(4)));
        assert!(progress.is_done(&branch));
        progress.forget_inside(&root, "P");
        assert!(!progress.is_done(&branch));
        assert_eq!(progress.take(&nested), None);
        assert_eq!(progress.take(&root.child("Q", 0)), Some(Unit::Done(json!(4))));
        assert_eq!(progress.take(&root.child("Q", 0)), None);
        assert!(progress.take(&root).is_some());
        assert_eq!(progress.take(&root), None);
    }

    #[test]
    fn progress_survives_json() {
        let mut progress = Progress::default();
        progress.set(&RunPath::root().child("a/b", 2), Unit::Done(json!({"x": [1]})));
        progress.set_map_run(
            &RunPath::root().child("M", 0),
            MapRunProgress {
                arn: "arn".into(),
                id: "id".into(),
                inputs: vec![json!(1)],
                items: 1,
                children: vec![ChildSlot::Pending],
                redrive_count: 1,
            },
        );
        let back = serde_json::to_string(&progress)
            .and_then(|text| serde_json::from_str::<Progress>(&text));
        assert_eq!(back.map_err(|e| e.to_string()), Ok(progress));
    }
}
