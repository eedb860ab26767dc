//! Stop requests: what Ctrl-C and SIGTERM mean to the engine.
//!
//! The engine never listens for signals itself. Whoever drives it owns a [`Stop`] handle and
//! records requests on it: the `runner` binary forwards SIGINT and SIGTERM (`crate::signals`),
//! a test or an embedder calls [`Stop::request`]. Every supervisor of the command watches
//! the same handle: the first request stops each connector gracefully (SIGTERM, grace
//! period, SIGKILL) and decides how the command ends; a further request kills at once.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A request to stop, named after the signal that usually carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// A worker's lease on the connection passed to another worker.
    LeaseLost,
}

impl StopSignal {
    /// `SIGINT`, `SIGTERM`, or `a lost lease`: what a run "was interrupted by".
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::LeaseLost => "a lost lease",
        }
    }
}

type Waker = Box<dyn Fn() + Send>;

/// A shared stop switch: cheap to clone, every clone sees the same requests.
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    first: Mutex<Option<StopSignal>>,
    count: AtomicU32,
    next_subscription: AtomicU64,
    wakers: Mutex<Vec<(u64, Waker)>>,
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stop").field("received", &self.received()).field("count", &self.count()).finish()
    }
}

impl Stop {
    /// A switch nobody has pulled yet.
    pub fn new() -> Self {
        Stop::default()
    }

    /// Records a stop request and wakes every subscriber. The first request decides
    /// [`Stop::received`]; each one counts.
    pub fn request(&self, signal: StopSignal) {
        self.inner.first.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(signal);
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        for (_, wake) in self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            wake();
        }
    }

    /// The first request received, if any.
    pub fn received(&self) -> Option<StopSignal> {
        *self.inner.first.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many requests were received so far.
    pub fn count(&self) -> u32 {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// Calls `wake` on every request until the returned guard is dropped.
    pub fn subscribe(&self, wake: impl Fn() + Send + 'static) -> Subscription {
        let id = self.inner.next_subscription.fetch_add(1, Ordering::SeqCst);
        self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner).push((id, Box::new(wake)));
        Subscription { stop: Arc::clone(&self.inner), id }
    }
}

/// Unsubscribes on drop.
pub struct Subscription {
    stop: Arc<Inner>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.stop.wakers.lock().unwrap_or_else(PoisonError::into_inner).retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_decides_and_every_request_wakes_subscribers() {
        let stop = Stop::new();
        assert_eq!((stop.received(), stop.count()), (None, 0));
        let woken = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&woken);
        let subscription = stop.subscribe(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        stop.clone().request(StopSignal::Terminate);
        stop.request(StopSignal::Interrupt);
        assert_eq!((stop.received(), stop.count()), (Some(StopSignal::Terminate), 2));
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        drop(subscription);
        stop.request(StopSignal::Interrupt);
        assert_eq!(woken.load(Ordering::SeqCst), 2, "a dropped subscription is not woken");
    }

    #[test]
    fn separate_switches_do_not_see_each_other() {
        let (a, b) = (Stop::new(), Stop::new());
        a.request(StopSignal::Interrupt);
        assert_eq!(b.received(), None);
    }
}
