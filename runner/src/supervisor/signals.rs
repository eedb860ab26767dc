//! Ctrl-C and SIGTERM for the whole runner process.
//!
//! [`install`] replaces the default "die at once" behaviour with bookkeeping: the first
//! signal is remembered (it decides the exit code, 130 or 143) and every running
//! supervisor is woken so it can stop its connector gracefully; a second signal makes
//! them kill at once. A small Tokio runtime on one thread listens for the signals, so no
//! `unsafe` signal handler is needed.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::signal::unix::{signal, SignalKind};

/// A signal that asks the runner to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C): exit code 130.
    Interrupt,
    /// SIGTERM: exit code 143.
    Terminate,
}

impl StopSignal {
    /// The conventional exit code: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => libc::SIGINT,
            StopSignal::Terminate => libc::SIGTERM,
        }
    }

    fn from_number(number: i32) -> Option<StopSignal> {
        match number {
            libc::SIGINT => Some(StopSignal::Interrupt),
            libc::SIGTERM => Some(StopSignal::Terminate),
            _ => None,
        }
    }
}

static FIRST: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicU32 = AtomicU32::new(0);

type Waker = Box<dyn Fn() + Send>;

fn wakers() -> &'static Mutex<Vec<(u64, Waker)>> {
    static WAKERS: OnceLock<Mutex<Vec<(u64, Waker)>>> = OnceLock::new();
    WAKERS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Starts listening for SIGINT and SIGTERM. Idempotent; call it early in `main`.
///
/// # Errors
/// The signal handlers or the listener thread could not be set up.
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    // Register before returning, so a signal right after `install` is already caught.
    let (mut interrupt, mut terminate) = {
        let _guard = runtime.enter();
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        runtime.block_on(async move {
            loop {
                let received = tokio::select! {
                    _ = interrupt.recv() => StopSignal::Interrupt,
                    _ = terminate.recv() => StopSignal::Terminate,
                };
                record(received);
            }
        })
    })?;
    let _ = INSTALLED.set(());
    Ok(())
}

/// Records a stop request and wakes every supervisor; also used by tests and embedders
/// that want to stop running syncs without a real signal.
pub fn record(received: StopSignal) {
    let _ = FIRST.compare_exchange(0, received.number(), Ordering::SeqCst, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
    for (_, wake) in wakers().lock().unwrap_or_else(|e| e.into_inner()).iter() {
        wake();
    }
}

/// The first stop signal received, if any.
pub fn received() -> Option<StopSignal> {
    StopSignal::from_number(FIRST.load(Ordering::SeqCst))
}

/// How many stop signals were received so far.
pub fn count() -> u32 {
    COUNT.load(Ordering::SeqCst)
}

/// Calls `wake` on every stop signal until the returned guard is dropped.
pub fn subscribe(wake: impl Fn() + Send + 'static) -> Subscription {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let id = u64::from(NEXT.fetch_add(1, Ordering::SeqCst));
    wakers().lock().unwrap_or_else(|e| e.into_inner()).push((id, Box::new(wake)));
    Subscription { id }
}

/// Unsubscribes on drop.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        wakers().lock().unwrap_or_else(|e| e.into_inner()).retain(|(id, _)| *id != self.id);
    }
}
