//! The backfill: from the previous state's cursor (or now) back to the cutoff, and how far
//! back it has emitted everything of both kinds.

use chrono::{DateTime, Utc};

use super::{Kind, PerKind};
use crate::coverage::Coverage;
use crate::windows::Window;

/// The backfill's windows of each kind, and where it started.
#[derive(Debug)]
pub(super) struct Backfill {
    top: DateTime<Utc>,
    coverage: PerKind<Coverage>,
}

impl Backfill {
    /// A backfill walking back from `top`.
    pub(super) fn new(top: DateTime<Utc>) -> Self {
        Backfill { top, coverage: PerKind([Coverage::new(top), Coverage::new(top)]) }
    }

    /// Where it walks back from.
    pub(super) fn top(&self) -> DateTime<Utc> {
        self.top
    }

    /// A window of `kind` to fetch.
    pub(super) fn add(&mut self, kind: Kind, window: Window) {
        self.coverage[kind].add(window);
    }

    /// A window of `kind` replaced by its halves.
    pub(super) fn split(&mut self, kind: Kind, window: Window, halves: [Window; 2]) {
        self.coverage[kind].split(window, halves);
    }

    /// Every item of a window of `kind` is emitted.
    pub(super) fn finish(&mut self, kind: Kind, window: Window) {
        self.coverage[kind].finish(window);
    }

    /// Everything of both kinds created from here up to the top is emitted.
    pub(super) fn covered_to(&self) -> DateTime<Utc> {
        Kind::BOTH.iter().map(|&kind| self.coverage[kind].to()).max().unwrap_or(self.top)
    }
}
