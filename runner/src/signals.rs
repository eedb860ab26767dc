//! The binary's edge to the operating system's stop signals: SIGINT and SIGTERM are
//! forwarded to a [`Stop`] handle instead of killing the runner at once, so the engine can
//! stop its connectors gracefully and store what is safely stored.
//!
//! A small Tokio runtime on one thread listens for the signals, so no `unsafe` signal
//! handler is needed.

use std::sync::OnceLock;

use tokio::signal::unix::{signal, SignalKind};

use crate::engine::{Stop, StopSignal};

/// Starts forwarding SIGINT and SIGTERM to `stop`. Call it once, early in `main`; later
/// calls change nothing (the first handle keeps receiving).
///
/// # Errors
/// The signal handlers or the listener thread could not be set up.
pub fn forward_to(stop: &Stop) -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    // Register before returning, so a signal right after this call is already caught.
    let (mut interrupt, mut terminate) = {
        let _guard = runtime.enter();
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    let stop = stop.clone();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        runtime.block_on(async move {
            loop {
                let received = tokio::select! {
                    _ = interrupt.recv() => StopSignal::Interrupt,
                    _ = terminate.recv() => StopSignal::Terminate,
                };
                stop.request(received);
            }
        })
    })?;
    let _ = INSTALLED.set(());
    Ok(())
}
