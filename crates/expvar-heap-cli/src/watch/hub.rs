//! What the page is told: each target's last scrapes, kept in a bounded ring, and every new one
//! as it comes, as server-sent-event frames written once and shared by every page.
//!
//! The transform thread publishes; it never waits on a page: a frame goes into the ring (under a
//! lock held for a push) and into a broadcast channel whose slow receivers lose frames rather than
//! hold anyone up. A page that lost frames is disconnected, and its browser reconnects and
//! receives the kept history again (each stream starts with `hello`, which resets the page).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use expvar_heap::Event;
use tokio::sync::broadcast;

use crate::scrape::Label;
use crate::scrape::Observer;

/// Frames the live channel holds for a page's forwarding task, which takes each at once (the
/// page's own backlog is bounded in bytes by the server); a task this far behind ends its page.
const LIVE_FRAMES: usize = 256;

/// Bytes of frames kept per target, at most, whatever `--history` says: a target whose bodies
/// are large (thousands of custom variables, with `--dataset all`) keeps fewer scrapes.
pub const MAX_KEPT_BYTES: usize = 16 << 20;

/// The stream every page reads, and the history a page opened later starts from.
pub struct Hub {
    state: Mutex<State>,
    live: broadcast::Sender<Bytes>,
    /// Scrapes kept per target.
    keep: usize,
    period: Duration,
}

#[derive(Default)]
struct State {
    targets: BTreeMap<u64, Kept>,
}

/// One target: the frame that names it, and its last scrapes' frames.
struct Kept {
    named: Bytes,
    frames: VecDeque<Bytes>,
    bytes: usize,
}

impl Hub {
    /// A hub keeping `keep` scrapes per target (at least one), scraped every `period`.
    pub fn new(keep: usize, period: Duration) -> Hub {
        let (live, _) = broadcast::channel(LIVE_FRAMES);
        Hub { state: Mutex::new(State::default()), live, keep: keep.max(1), period }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A target joins (`address`: its `service.address`, which holds no credential; `label`: its
    /// name and memory limit, when its entry gives them).
    pub fn add_target(&self, id: u64, address: &str, label: &Label) {
        let mut data = serde_json::json!({ "id": id, "address": address });
        if let (serde_json::Value::Object(data), Ok(serde_json::Value::Object(label))) =
            (&mut data, serde_json::to_value(label))
        {
            data.extend(label);
        }
        let named = Bytes::from(format!("event: target\ndata: {data}\n\n"));
        let mut state = self.state();
        state.targets.insert(id, Kept { named: named.clone(), frames: VecDeque::new(), bytes: 0 });
        let _ = self.live.send(named);
    }

    /// A target leaves, with its history.
    pub fn remove_target(&self, id: u64) {
        let mut state = self.state();
        if state.targets.remove(&id).is_some() {
            let _ = self.live.send(Bytes::from(format!("event: gone\ndata: {{\"id\":{id}}}\n\n")));
        }
    }

    /// One scrape's events. Each event's text is JSON on one line, as the transform writes it;
    /// whether it has `error.message` comes from the transform, never from reading the text.
    pub fn publish(&self, id: u64, events: &[Event]) {
        let mut data = format!("data: {{\"target\":{id},\"events\":[");
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            data.push_str(&format!(
                "{{\"has_error\":{},\"event\":{}}}",
                event.has_error, event.json
            ));
        }
        data.push_str("]}\n\n");
        let frame = Bytes::from(data);
        let mut state = self.state();
        let Some(kept) = state.targets.get_mut(&id) else { return };
        kept.bytes += frame.len();
        kept.frames.push_back(frame.clone());
        while kept.frames.len() > self.keep
            || (kept.bytes > MAX_KEPT_BYTES && kept.frames.len() > 1)
        {
            let old = kept.frames.pop_front().expect("not empty");
            kept.bytes -= old.len();
        }
        // Sent under the lock, so that a page subscribing now gets this frame exactly once: in
        // its history, or live.
        let _ = self.live.send(frame);
    }

    /// What a page opened now reads first (`hello`, then each target and its kept scrapes), and
    /// the live frames after them.
    pub fn subscribe(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let state = self.state();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let hello = format!(
            "retry: 1000\nevent: hello\ndata: {{\"keep\":{},\"period_ms\":{},\"now_ms\":{now}}}\n\n",
            self.keep,
            self.period.as_millis()
        );
        let mut frames = vec![Bytes::from(hello)];
        for kept in state.targets.values() {
            frames.push(kept.named.clone());
            frames.extend(kept.frames.iter().cloned());
        }
        (frames, self.live.subscribe())
    }
}

/// The hub as an observer of the scrapes: told each target and scrape in order, by the thread
/// that transforms them, which it never makes wait.
pub struct Publisher(pub Arc<Hub>);

impl Observer for Publisher {
    fn target_added(&mut self, id: u64, address: &str, label: &Label) {
        self.0.add_target(id, address, label);
    }

    fn target_removed(&mut self, id: u64) {
        self.0.remove_target(id);
    }

    fn scraped(&mut self, id: u64, events: &[Event]) -> std::io::Result<()> {
        self.0.publish(id, events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str, has_error: bool) -> Event {
        Event { json: json.to_owned(), has_error }
    }

    fn text(frames: &[Bytes]) -> String {
        frames.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
    }

    #[test]
    fn a_page_opened_later_gets_the_kept_scrapes_then_the_live_ones() {
        let hub = Hub::new(2, Duration::from_secs(1));
        hub.add_target(
            7,
            "http://127.0.0.1:6060",
            &Label {
                name: Some("checkout".into()),
                memory_limit: Some(1 << 29),
                ..Label::default()
            },
        );
        for n in 1..=3 {
            hub.publish(7, &[event(&format!("{{\"n\":{n}}}"), false)]);
        }
        let (history, mut live) = hub.subscribe();
        let history = text(&history);
        assert!(
            history.starts_with("retry: 1000\nevent: hello\ndata: {\"keep\":2,\"period_ms\":1000,")
        );
        assert!(
            history.contains(
                "event: target\ndata: {\"address\":\"http://127.0.0.1:6060\",\"id\":7,\"memory_limit\":536870912,\"name\":\"checkout\"}\n\n"
            )
        );
        // The ring keeps the last two.
        assert!(!history.contains("{\"n\":1}"));
        assert!(history.ends_with(
            "data: {\"target\":7,\"events\":[{\"has_error\":false,\"event\":{\"n\":2}}]}\n\n\
             data: {\"target\":7,\"events\":[{\"has_error\":false,\"event\":{\"n\":3}}]}\n\n"
        ));
        hub.publish(7, &[event("{\"n\":4}", true)]);
        let frame = live.try_recv().unwrap();
        assert_eq!(
            frame,
            "data: {\"target\":7,\"events\":[{\"has_error\":true,\"event\":{\"n\":4}}]}\n\n"
        );
        hub.remove_target(7);
        assert_eq!(live.try_recv().unwrap(), "event: gone\ndata: {\"id\":7}\n\n");
        assert!(!text(&hub.subscribe().0).contains("\"target\":7"));
    }

    #[test]
    fn a_target_of_large_bodies_keeps_fewer_scrapes() {
        let hub = Hub::new(1000, Duration::from_secs(1));
        hub.add_target(1, "http://127.0.0.1:1", &Label::default());
        let big = format!("{{\"x\":\"{}\"}}", "y".repeat(1 << 20));
        for _ in 0..40 {
            hub.publish(1, &[event(&big, false)]);
        }
        let kept = hub.subscribe().0.iter().map(Bytes::len).sum::<usize>();
        assert!(kept <= MAX_KEPT_BYTES + 4096, "{kept} bytes kept");
        assert!(kept >= MAX_KEPT_BYTES - (2 << 20), "{kept} bytes kept");
    }
}
