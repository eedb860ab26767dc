//! The binary's edge to the operating system's signals: SIGINT and SIGTERM are
//! forwarded to a [`Stop`] handle instead of killing the runner at once, so the engine can
//! stop its connectors gracefully and store what is safely stored.
//!
//! A small Tokio runtime on one thread listens for the signals, so no `unsafe` signal
//! handler is needed.
//!
//! SIGXFSZ (a write past the file-size limit, `ulimit -f`) is caught too, and dropped: by
//! default it kills the process at once, mid-write, with no word said. Caught, the write
//! fails with `EFBIG` instead, and the destination reports it as any other failed write,
//! naming the file (RELIABILITY.md). A caught signal is reset to its default in the
//! connectors the runner starts (`exec` does that), unlike an ignored one.

use std::sync::OnceLock;

use tokio::signal::unix::{signal, SignalKind};

use engine::{Stop, StopSignal};

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
    let (mut interrupt, mut terminate, mut file_too_large) = {
        let _guard = runtime.enter();
        let file_too_large = signal(SignalKind::from_raw(libc::SIGXFSZ))?;
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?, file_too_large)
    };
    let stop = stop.clone();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        runtime.block_on(async move {
            loop {
                let received = tokio::select! {
                    _ = interrupt.recv() => Some(StopSignal::Interrupt),
                    _ = terminate.recv() => Some(StopSignal::Terminate),
                    // The failed write says what happened; the signal adds nothing.
                    _ = file_too_large.recv() => None,
                };
                if let Some(received) = received {
                    stop.request(received);
                }
            }
        })
    })?;
    let _ = INSTALLED.set(());
    Ok(())
}
