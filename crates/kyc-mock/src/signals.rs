//! Waiting for Ctrl-C or SIGTERM, shared by the `kyc-mock` binary and `kyc mock`.

/// Ctrl-C and (on Unix) SIGTERM handlers for a program that serves the simulator until stopped.
///
/// Install them before announcing the server (printing its URL), so a signal sent as soon as the
/// announcement appears is not missed; then [`StopSignals::wait`].
#[derive(Debug)]
pub struct StopSignals {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// The runtime or the signal handlers could not be set up.
    pub fn install() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let context = runtime.enter();
            let interrupt = signal(SignalKind::interrupt())?;
            let terminate = signal(SignalKind::terminate())?;
            drop(context);
            Ok(Self {
                runtime,
                interrupt,
                terminate,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self { runtime })
        }
    }

    /// Blocks until a stop signal arrives.
    ///
    /// # Errors
    ///
    /// Waiting for Ctrl-C failed (non-Unix platforms only).
    pub fn wait(self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let Self {
                runtime,
                mut interrupt,
                mut terminate,
            } = self;
            runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            Ok(())
        }
        #[cfg(not(unix))]
        {
            self.runtime.block_on(tokio::signal::ctrl_c())
        }
    }
}
