//! Progress reporting for long operations, implemented by the CLI (a progress bar on stderr).

/// Receives progress of a long operation. Implementations must be cheap: `advance` is called
/// often.
pub trait Progress {
    /// A new phase begins; `total` is in the unit `advance` counts (records or bytes).
    fn start(&self, total: Option<u64>, what: &str);
    fn advance(&self, done: u64);
    fn finish(&self);
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: Option<u64>, _what: &str) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}
