//! Time for the rate limiter and the retry backoff: the tokio clock, or a virtual clock whose
//! sleeps return at once and are recorded (tests and simulations assert on the delays asked
//! for, never on wall time).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A monotonic clock that can sleep.
pub trait Clock: Send + Sync {
    /// Time since the clock's origin.
    fn now(&self) -> Duration;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real time through `tokio::time`.
#[derive(Debug, Clone)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock { origin: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when slept on: each sleep advances it at once and is recorded.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    state: Arc<Mutex<(Duration, Vec<Duration>)>>,
}

impl VirtualClock {
    /// A clock at zero with no sleeps.
    pub fn new() -> VirtualClock {
        VirtualClock::default()
    }

    /// Every sleep asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().map(|s| s.1.clone()).unwrap_or_default()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        self.state.lock().map(|s| s.0).unwrap_or_default()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if let Ok(mut state) = self.state.lock() {
            state.0 += duration;
            state.1.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}
