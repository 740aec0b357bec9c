//! The pause window: the GC cycles that ended between two bodies of one process, read from the
//! `PauseNs` ring of the later body.

use crate::fields::{PAUSE_RING_LEN, pause_ring_slot};

/// Where a pause window starts, written as `golang.heap.gc.pause.since` so that a chart or a
/// query can tell a window of one collection interval from one that spans the process's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum WindowStart {
    /// `previous_body`: the cycles that ended since the previous body of the same process (or
    /// since the `last_num_gc` a poller wrote into the body).
    #[default]
    PreviousBody,
    /// `process_start`: the collector had no previous body (its first, or the first after bodies
    /// it could not read), so the window is every cycle since the process started, as far as the
    /// ring still holds them: a span of unknown length, often far longer than an interval.
    ProcessStart,
    /// `restart`: the process restarted after the previous body, so the window is every cycle of
    /// the new process (all of which ended after the previous body).
    Restart,
}

impl WindowStart {
    /// The keyword written into `golang.heap.gc.pause.since`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            WindowStart::PreviousBody => "previous_body",
            WindowStart::ProcessStart => "process_start",
            WindowStart::Restart => "restart",
        }
    }
}

/// The GC cycles that ended between two bodies of one process, read from the `PauseNs` ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PauseWindow {
    /// Cycles whose pause is in the ring (at most 256).
    pub(crate) count: u64,
    /// Their pauses added up, in ns.
    pub(crate) sum_ns: u64,
    /// The longest of them, in ns (0 when there were none).
    pub(crate) max_ns: u64,
    /// `sum_ns / count`, rounded down (0 when there were none).
    pub(crate) avg_ns: u64,
    /// Cycles of the window that the ring no longer holds (more than 256 ended since the last body).
    pub(crate) missed: u64,
    /// Where the window starts.
    pub(crate) since: WindowStart,
}

impl PauseWindow {
    /// The window of the `new` cycles that ended up to cycle `num_gc` (1-based, as Go counts
    /// them), starting at `since`. Cycle `n`'s pause is at `PauseNs[pause_ring_slot(n)]`, given by
    /// `pause_ns` (0 to 255), asked for each entry once, in cycle order, only when in the window;
    /// only the last 256 cycles are still there, the others are counted as missed.
    ///
    /// No figure of a body is trusted to be sane: the arithmetic wraps where Go's counter does
    /// (a window may span `NumGC`'s wrap) and saturates where a sum could pass 64 bits, so any
    /// pair of counts gives a window of at most 256 entries.
    pub(crate) fn of_cycles(
        since: WindowStart,
        new: u64,
        num_gc: u64,
        pause_ns: impl Fn(usize) -> u64,
    ) -> PauseWindow {
        let count = new.min(PAUSE_RING_LEN as u64);
        let mut window =
            PauseWindow { count, missed: new - count, since, ..PauseWindow::default() };
        // The first cycle of the window still held; `count` is at most 256.
        let first = num_gc.wrapping_sub(count).wrapping_add(1);
        for k in 0..count {
            let pause = pause_ns(pause_ring_slot(first.wrapping_add(k)));
            window.sum_ns = window.sum_ns.saturating_add(pause);
            window.max_ns = window.max_ns.max(pause);
        }
        window.avg_ns = window.sum_ns.checked_div(count).unwrap_or(0);
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: u64 = PAUSE_RING_LEN as u64;

    fn ring(pauses: &[(u64, u64)]) -> Box<[u64; PAUSE_RING_LEN]> {
        let mut ring = Box::new([0; PAUSE_RING_LEN]);
        for &(cycle, ns) in pauses {
            ring[pause_ring_slot(cycle)] = ns;
        }
        ring
    }

    /// The window of `previous + 1 ..= num_gc` over `ring`, from the previous body.
    fn between(previous: u64, num_gc: u64, ring: &[u64; PAUSE_RING_LEN]) -> PauseWindow {
        let since = WindowStart::PreviousBody;
        PauseWindow::of_cycles(since, num_gc - previous, num_gc, |index| ring[index])
    }

    #[test]
    fn window_of_new_cycles() {
        let ring = ring(&[(2, 5), (3, 10), (4, 30), (5, 20)]);
        let window = between(2, 5, &ring);
        let since = WindowStart::PreviousBody;
        assert_eq!(
            window,
            PauseWindow { count: 3, sum_ns: 60, max_ns: 30, avg_ns: 20, missed: 0, since }
        );
        assert_eq!(between(5, 5, &ring), PauseWindow::default());
    }

    #[test]
    fn window_past_the_ring_counts_the_missed_cycles() {
        // 600 cycles; the ring holds the last 256, each pause equal to its cycle number.
        let first_held = 600 - RING + 1;
        let ring = ring(&(first_held..=600).map(|c| (c, c)).collect::<Vec<_>>());
        let window = between(40, 600, &ring);
        assert_eq!(window.count, RING);
        assert_eq!(window.missed, 560 - RING);
        assert_eq!(window.sum_ns, (first_held..=600).sum::<u64>());
        assert_eq!(window.max_ns, 600);
        assert_eq!(window.avg_ns, (first_held..=600).sum::<u64>() / RING);
    }
}
