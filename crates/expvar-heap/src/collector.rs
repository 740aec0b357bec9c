//! The stateful collector: per-interval GC pauses for one scraped process.

use crate::event::{self, Event};
use crate::fields::Stat;
use crate::framing::embedded_body;
use crate::pause::PauseWindow;
use crate::read::{Body, Want, read_body};
use crate::time::CollectionTime;
use crate::valid::ValidOptions;

/// A collector for one scraped process: push its bodies in the order they were collected and get
/// each one's events, the `golang.heap` event with `golang.heap.gc.pause.*` for the GC cycles that
/// ended since the previous body.
///
/// It remembers only the previous body's `NumGC`. That is enough because Go numbers GC cycles and
/// keeps the pause of each of the last 256 in `PauseNs`: the cycles since the previous body are
/// `previous + 1 ..= NumGC`, and the current body's ring still holds every one of them unless more
/// than 256 ended (those are counted as missed). Earlier rings add nothing the current one lacks.
///
/// - First body: there is no previous `NumGC`, so the window is every cycle since the process
///   started, as far as the ring still holds them.
/// - `NumGC` lower than last time: the process restarted; the window starts again from zero
///   (Metricbeat stayed at zero until the old count was passed, beats#6543).
/// - A body carrying a top-level `last_num_gc` (as the poller of Elastic's PR #4908 injects it)
///   uses that as the previous `NumGC`.
/// - A body without a usable `NumGC` or `PauseNs` gets no pause fields and leaves the state as it was.
#[derive(Clone, Debug, Default)]
pub struct Collector {
    options: ValidOptions,
    last_num_gc: Option<u64>,
}

impl Collector {
    /// A collector that has seen no body yet, making its events with `options`.
    /// ([`Collector::default`] makes them with the integration's defaults.)
    pub fn new(options: ValidOptions) -> Collector {
        Collector { options, last_num_gc: None }
    }

    /// The options every event of this collector is made with.
    pub fn options(&self) -> &ValidOptions {
        &self.options
    }

    /// The `NumGC` of the last body that had one.
    pub fn last_num_gc(&self) -> Option<u64> {
        self.last_num_gc
    }

    /// The events of the next body of the process (one per dataset of the options, heap first).
    pub fn push(&mut self, body: &[u8], time: CollectionTime) -> Vec<Event> {
        let want = Want { custom: self.options.datasets.expvar, pauses: true, embedded: false };
        match read_body(body, want) {
            Ok(read) => {
                let pauses = self.advance(&read);
                event::build_all(body, Ok(&read), time, &self.options, pauses)
            }
            Err(why) => event::build_all(body, Err(&why.to_string()), time, &self.options, None),
        }
    }

    /// [`Collector::push`] of [`crate::record_body`]: the body a log shipper's record carries,
    /// or the record itself, which is read once when it is the body (as it is, most often).
    pub fn push_record(&mut self, record: &[u8], time: CollectionTime) -> Vec<Event> {
        let want = Want { custom: self.options.datasets.expvar, pauses: true, embedded: true };
        match read_body(record, want) {
            Ok(read) => match embedded_body(record, &read) {
                None => {
                    let pauses = self.advance(&read);
                    event::build_all(record, Ok(&read), time, &self.options, pauses)
                }
                Some(body) => self.push(&body, time),
            },
            Err(why) => event::build_all(record, Err(&why.to_string()), time, &self.options, None),
        }
    }

    /// The window of this body, moving the state on to it.
    fn advance(&mut self, read: &Body<'_>) -> Option<PauseWindow> {
        let num_gc = read.stat(Stat::NumGC)?.as_u64()?;
        let pause_ns = read.pause_ns.as_ref()?;
        let previous = match read.last_num_gc.or(self.last_num_gc) {
            Some(previous) if previous <= num_gc => previous,
            _ => 0, // first body, or a restart
        };
        self.last_num_gc = Some(num_gc);
        Some(PauseWindow::between_entries(previous, num_gc, |index| pause_ns.get(index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::PAUSE_RING_LEN;

    const AT: CollectionTime = CollectionTime { seconds: 1, nanoseconds: 0 };

    /// A body of a process that has run `num_gc` cycles, cycle `n` pausing `n` ns.
    fn body(num_gc: u64, extra: &str) -> String {
        let mut ring = vec![0u64; PAUSE_RING_LEN];
        for cycle in num_gc.saturating_sub(PAUSE_RING_LEN as u64) + 1..=num_gc {
            ring[(cycle - 1) as usize % PAUSE_RING_LEN] = cycle;
        }
        let ring: Vec<String> = ring.iter().map(u64::to_string).collect();
        format!(r#"{{{extra}"memstats":{{"NumGC":{num_gc},"PauseNs":[{}]}}}}"#, ring.join(","))
    }

    fn pause_count(collector: &mut Collector, body: &str) -> Option<u64> {
        let event = collector.push(body.as_bytes(), AT).remove(0);
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        event["golang"]["heap"]["gc"]["pause"]["count"].as_u64()
    }

    #[test]
    fn counts_from_the_last_good_body_across_failures_and_restarts() {
        let mut collector = Collector::default();
        assert_eq!(pause_count(&mut collector, &body(3, "")), Some(3)); // first body: the ring
        assert_eq!(pause_count(&mut collector, &body(5, "")), Some(2));
        // A failed scrape (an error page) gets no window and leaves the state as it was.
        assert_eq!(pause_count(&mut collector, "<html>502</html>"), None);
        assert_eq!(collector.last_num_gc(), Some(5));
        assert_eq!(pause_count(&mut collector, &body(9, "")), Some(4));
        // NumGC went down: a new process, counted from zero.
        assert_eq!(pause_count(&mut collector, &body(2, "")), Some(2));
    }

    #[test]
    fn a_last_num_gc_in_the_body_overrides_the_remembered_one() {
        let mut collector = Collector::default();
        assert_eq!(pause_count(&mut collector, &body(8, r#""last_num_gc":2,"#)), Some(6));
        assert_eq!(pause_count(&mut collector, &body(10, r#""last_num_gc":7,"#)), Some(3));
    }
}
