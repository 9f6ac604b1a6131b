//! Capturing what a test logs: [`Logs::mark`], then [`Logs::text`] or [`Logs::lines`].
//!
//! The first mark installs a process-wide `tracing` subscriber writing every level of every
//! crate, without colours, into a buffer (if the process already has a global subscriber,
//! nothing is captured and tests looking for a line fail, which says so). nextest runs
//! each test in a process of its own; under `cargo test`, other tests' lines are mixed in,
//! so tests look for what must (or must not) be there, never for exact contents.
//!
//! ```
//! use sessionkit_testkit::logs::Logs;
//!
//! let logs = Logs::mark();
//! tracing::error!("Error saving to cache");
//! assert!(logs.lines("ERROR").iter().any(|l| l.contains("Error saving to cache")));
//! ```

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sink() -> &'static Arc<Mutex<Vec<u8>>> {
    static SINK: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    SINK.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Sink(Arc::clone(&buf));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
}

fn buffer() -> std::sync::MutexGuard<'static, Vec<u8>> {
    sink().lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything logged in this process from the moment of [`Logs::mark`].
#[derive(Debug)]
pub struct Logs {
    from: usize,
}

impl Logs {
    /// Starts capturing (installing the subscriber on first use); what is logged from
    /// now on is this mark's.
    pub fn mark() -> Logs {
        Logs {
            from: buffer().len(),
        }
    }

    /// The text logged since the mark, one event per line.
    pub fn text(&self) -> String {
        let buf = buffer();
        String::from_utf8_lossy(&buf[self.from.min(buf.len())..]).into_owned()
    }

    /// The lines at `level` (`"WARN"`, `"ERROR"`, ...) since the mark.
    pub fn lines(&self, level: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(level))
            .map(str::to_owned)
            .collect()
    }
}
