//! The one backoff formula of the workspace: capped exponential delays with a jitter strategy.
//!
//! Retry `attempt` (1 = the first retry) waits `step = min(cap, base × multiplier^(attempt−1))`,
//! then jittered: [`Jitter::None`] waits the step, [`Jitter::Full`] a uniform time in
//! `[0, step]`, [`Jitter::Equal`] `step/2` plus a uniform time in `[0, step − step/2]`. This is the
//! Step Functions `Retry` rule (`IntervalSeconds × BackoffRate^(attempt−1)`, capped by
//! `MaxDelaySeconds`, then `FULL` jitter uniform in `[0, capped]`), which the retry simulation
//! assumes; the interpreter in crates/states keeps its own copy because it knows nothing of
//! graphetl.
//!
//! Pure: no clock, no sleeping, no random generator of its own. The caller passes the random
//! source as a closure returning a uniform integer in `[0, max]` (for fastrand,
//! `|max| rng.u64(0..=max)`), so seeded tests stay deterministic.

use std::time::Duration;

/// How a random part is applied to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// The step as computed.
    None,
    /// Uniform in `[0, step]` ("full jitter", what Step Functions' `FULL` does).
    Full,
    /// Uniform in `[step / 2, step]` ("equal jitter").
    Equal,
}

/// A capped exponential backoff with a jitter strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The step of the first retry (ASL `IntervalSeconds`).
    pub base: Duration,
    /// Growth of the step per retry (ASL `BackoffRate`); below 1 (or NaN) counts as 1, as ASL
    /// allows no rate below 1.
    pub multiplier: f64,
    /// The largest step (ASL `MaxDelaySeconds`).
    pub cap: Duration,
    /// What is done to the step.
    pub jitter: Jitter,
}

impl Backoff {
    /// The step of retry `attempt` (1-based; 0 counts as 1) before jitter:
    /// `min(cap, base × multiplier^(attempt−1))`, exact to the nanosecond for integer
    /// multipliers below 2^53 ns (about 104 days), and `cap` for any larger `attempt`.
    pub fn step(&self, attempt: u32) -> Duration {
        let cap = nanos(self.cap);
        let base = nanos(self.base).min(cap);
        if base == 0 {
            return Duration::ZERO;
        }
        let multiplier = if self.multiplier >= 1.0 { self.multiplier } else { 1.0 };
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        // base > 0 and multiplier ≥ 1, so the product is never NaN; a float above u64::MAX
        // saturates in the cast, then the cap applies. Rounding never takes it below base.
        let grown = base as f64 * multiplier.powi(exponent);
        Duration::from_nanos((grown as u64).clamp(base, cap))
    }

    /// The wait before retry `attempt` (1-based): [`Backoff::step`] jittered with `uniform`, a
    /// source of uniform integers in `[0, max]` (a value above `max` is taken as `max`).
    pub fn delay(&self, attempt: u32, uniform: &mut impl FnMut(u64) -> u64) -> Duration {
        let step = nanos(self.step(attempt));
        let waited = match self.jitter {
            Jitter::None => step,
            Jitter::Full => uniform(step).min(step),
            Jitter::Equal => {
                let half = step / 2;
                half + uniform(step - half).min(step - half)
            }
        };
        Duration::from_nanos(waited)
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
