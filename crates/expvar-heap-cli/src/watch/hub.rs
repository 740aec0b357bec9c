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
use serde_json::value::RawValue;
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

/// One target: the data of the frame that names it, its last scrapes' records ([`record`]),
/// and its last `cmdline` (a record carries it only when it changed).
struct Kept {
    named: String,
    records: VecDeque<String>,
    bytes: usize,
    cmdline: Option<String>,
}

/// The most bytes of records in one `history` frame: a long history is read by the page in a
/// few dozen events (each parsed at once), not one event a scrape.
const HISTORY_FRAME_BYTES: usize = 256 << 10;

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
        let named = data.to_string();
        let frame = Bytes::from(format!("event: target\ndata: {named}\n\n"));
        let mut state = self.state();
        state.targets.insert(id, Kept { named, records: VecDeque::new(), bytes: 0, cmdline: None });
        let _ = self.live.send(frame);
    }

    /// A target leaves, with its history.
    pub fn remove_target(&self, id: u64) {
        let mut state = self.state();
        if state.targets.remove(&id).is_some() {
            let _ = self.live.send(Bytes::from(format!("event: gone\ndata: {{\"id\":{id}}}\n\n")));
        }
    }

    /// One scrape's events, sent as one compact record ([`record`]): the figures the page reads,
    /// not the whole ECS events (which go to `--output`).
    pub fn publish(&self, id: u64, events: &[Event]) {
        let mut state = self.state();
        let Some(kept) = state.targets.get_mut(&id) else { return };
        let record = record(events, &mut kept.cmdline);
        let frame = Bytes::from(format!("data: {{\"target\":{id},\"scrape\":{record}}}\n\n"));
        kept.bytes += record.len();
        kept.records.push_back(record);
        while kept.records.len() > self.keep
            || (kept.bytes > MAX_KEPT_BYTES && kept.records.len() > 1)
        {
            let old = kept.records.pop_front().expect("not empty");
            kept.bytes -= old.len();
        }
        // Sent under the lock, so that a page subscribing now gets this frame exactly once: in
        // its history, or live.
        let _ = self.live.send(frame);
    }

    /// What a page opened now reads first (`hello`, then each target, with its last `cmdline`,
    /// and its kept scrapes, in `history` frames of many records each), and the live frames
    /// after them (one record each).
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
        for (id, kept) in &state.targets {
            let named = match &kept.cmdline {
                Some(cmdline) => {
                    let open = kept.named.strip_suffix('}').unwrap_or(&kept.named);
                    format!("{open},\"cmdline\":{cmdline}}}")
                }
                None => kept.named.clone(),
            };
            frames.push(Bytes::from(format!("event: target\ndata: {named}\n\n")));
            let mut records = kept.records.iter().peekable();
            while records.peek().is_some() {
                let mut frame = format!("event: history\ndata: {{\"target\":{id},\"scrapes\":[");
                let start = frame.len();
                while let Some(record) = records.next_if(|r| {
                    frame.len() == start || frame.len() - start + r.len() < HISTORY_FRAME_BYTES
                }) {
                    if frame.len() > start {
                        frame.push(',');
                    }
                    frame.push_str(record);
                }
                frame.push_str("]}\n\n");
                frames.push(Bytes::from(frame));
            }
        }
        // The history ends here: the page draws once, not once a kept scrape.
        frames.push(Bytes::from_static(b"event: live\ndata: {}\n\n"));
        (frames, self.live.subscribe())
    }
}

/// The fields of an event the page reads: each figure's text is kept as the transform wrote it
/// (borrowed, never parsed into a number), so the page shows exactly what `--output` has.
#[derive(serde::Deserialize)]
struct Read<'a> {
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(default)]
    data_stream: DataStream,
    #[serde(borrow)]
    error: Option<ErrorField<'a>>,
    #[serde(borrow)]
    event: Option<EventField<'a>>,
    #[serde(borrow)]
    golang: Option<Golang<'a>>,
}

#[derive(serde::Deserialize, Default)]
struct DataStream {
    dataset: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorField<'a> {
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct EventField<'a> {
    #[serde(borrow)]
    original: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct Golang<'a> {
    #[serde(borrow)]
    heap: Option<&'a RawValue>,
    #[serde(borrow)]
    expvar: Option<Expvar<'a>>,
}

#[derive(serde::Deserialize)]
struct Expvar<'a> {
    #[serde(borrow)]
    custom: Option<&'a RawValue>,
}

/// The figures of `golang.heap` the page reads (docs/watch.md): each name, and what of its value
/// is kept (all of it, or the figures named under it). The rest of the event (the envelope,
/// `event.original`, the counters no panel or verdict reads) stays in `--output`.
enum Pick {
    All,
    Some(&'static [(&'static str, Pick)]),
}

const BYTES: Pick = Pick::Some(&[("bytes", Pick::All)]);
const COUNT: Pick = Pick::Some(&[("count", Pick::All)]);
const NS: Pick = Pick::Some(&[("ns", Pick::All)]);
const HEAP_FIGURES: &[(&str, Pick)] = &[
    ("allocations", Pick::Some(&[("active", BYTES), ("object", BYTES), ("total", BYTES)])),
    (
        "gc",
        Pick::Some(&[
            ("cpu_fraction", Pick::All),
            ("next_gc_limit", Pick::All),
            (
                "pause",
                Pick::Some(&[
                    ("since", Pick::All),
                    ("total", NS),
                    ("max", NS),
                    ("p50", NS),
                    ("p99", NS),
                ]),
            ),
            ("total", COUNT),
        ]),
    ),
    ("mallocs", COUNT),
    ("system", Pick::Some(&[("released", BYTES), ("stack", BYTES), ("total", BYTES)])),
];

/// The members of a JSON object, each value's text as it is; `None` when it is no object.
fn members_of(raw: &RawValue) -> Option<BTreeMap<&str, &RawValue>> {
    serde_json::from_str(raw.get()).ok()
}

/// An object's `members` with only those `picks` names, in their order, each value's text as it
/// was (an object left with no member, or that is no object, is left out).
fn pick(members: &BTreeMap<&str, &RawValue>, picks: &[(&str, Pick)]) -> String {
    let mut out = String::from("{");
    for (name, what) in picks {
        let Some(value) = members.get(name) else { continue };
        let text = match what {
            Pick::All => value.get().to_owned(),
            Pick::Some(inner) => match members_of(value).map(|m| pick(&m, inner)) {
                Some(text) if text != "{}" => text,
                _ => continue,
            },
        };
        push_member(&mut out, name, &text);
    }
    out.push('}');
    out
}

/// `"name":value` after the members an object being written (`out`, from its `{`) has.
fn push_member(out: &mut String, name: &str, value: &str) {
    if out.len() > 1 {
        out.push(',');
    }
    out.push_str(&format!("\"{name}\":{value}"));
}

/// One scrape's record for the page, a JSON object with, when the events have them:
/// - `t`: the first event's `@timestamp`;
/// - `heap`: the figures of the heap event's `golang.heap` the page reads ([`HEAP_FIGURES`];
///   `heap_event`: the scrape has a heap event at all, which a run without the heap dataset has
///   not);
/// - `cmdline`: its `golang.heap.cmdline`, when it is not the one the last record of the target
///   had (`last_cmdline`, updated);
/// - `custom`: the `golang.expvar.custom` object of the expvar event (`expvar`: the scrape has
///   an expvar event with `golang.expvar`);
/// - `error`: the first event with an error's `error.message` (`"error"` when it has none);
/// - `answered`: a body came back (an event keeps a non-empty `event.original`), for a scrape
///   that failed all the same.
///
/// Every value is the transform's own text. About a fifth of the events' size for the heap
/// dataset (no ECS envelope: `ecs`, `service`, `tags`, `event` and `data_stream` are the same
/// on every scrape, or in the target's frame) and no `event.original`, however large.
pub fn record(events: &[Event], last_cmdline: &mut Option<String>) -> String {
    let mut t = None;
    let mut heap = None;
    let mut heap_event = false;
    let mut custom = None;
    let mut expvar = false;
    let mut error: Option<String> = None;
    let mut answered = false;
    for event in events {
        let Ok(read) = serde_json::from_str::<Read>(&event.json) else {
            error.get_or_insert_with(|| "\"the tool wrote an event the page cannot read\"".into());
            continue;
        };
        t = t.or(read.timestamp);
        if event.has_error && error.is_none() {
            let message = read.error.and_then(|e| e.message).map(RawValue::get);
            error = Some(message.unwrap_or("\"error\"").to_owned());
        }
        if read
            .event
            .and_then(|e| e.original)
            .is_some_and(|o| o.get() != "\"\"" && o.get() != "null")
        {
            answered = true;
        }
        match read.data_stream.dataset.as_deref() {
            Some("golang.heap") => {
                heap_event = true;
                heap = heap.or(read.golang.as_ref().and_then(|g| g.heap));
            }
            Some("golang.expvar") => {
                if let Some(found) = read.golang.and_then(|g| g.expvar) {
                    expvar = true;
                    custom = custom.or(found.custom);
                }
            }
            _ => {}
        }
    }
    let mut out = String::from("{");
    let mut field = |name: &str, value: &str| push_member(&mut out, name, value);
    if let Some(t) = t {
        field("t", t.get());
    }
    if let Some(heap) = heap {
        // A golang.heap that is no object (no transform writes one) is passed on as it is.
        let members = members_of(heap);
        let figures = members.as_ref().map(|m| pick(m, HEAP_FIGURES));
        field("heap", figures.as_deref().unwrap_or(heap.get()));
        let cmdline = members.and_then(|m| m.get("cmdline").map(|c| c.get().to_owned()));
        if let Some(cmdline) = cmdline.filter(|c| last_cmdline.as_ref() != Some(c)) {
            field("cmdline", &cmdline);
            *last_cmdline = Some(cmdline);
        }
    }
    if heap_event {
        field("heap_event", "true");
    }
    if let Some(custom) = custom {
        field("custom", custom.get());
    }
    if expvar {
        field("expvar", "true");
    }
    if let Some(error) = &error {
        field("error", error);
    }
    if answered {
        field("answered", "true");
    }
    out.push('}');
    out
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
            hub.publish(7, &[event(&format!("{{\"@timestamp\":\"{n}\"}}"), false)]);
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
        assert!(!history.contains("\"t\":\"1\""));
        assert!(history.ends_with(
            "event: history\ndata: {\"target\":7,\"scrapes\":[{\"t\":\"2\"},{\"t\":\"3\"}]}\n\n\
             event: live\ndata: {}\n\n"
        ));
        hub.publish(7, &[event("{\"@timestamp\":\"4\"}", true)]);
        let frame = live.try_recv().unwrap();
        assert_eq!(frame, "data: {\"target\":7,\"scrape\":{\"t\":\"4\",\"error\":\"error\"}}\n\n");
        hub.remove_target(7);
        assert_eq!(live.try_recv().unwrap(), "event: gone\ndata: {\"id\":7}\n\n");
        assert!(!text(&hub.subscribe().0).contains("\"target\":7"));
    }

    /// What of golang.heap the page reads (watch.js, triage.js), as JSON pointers.
    const PAGE_READS: &[&str] = &[
        "/allocations/active/bytes",
        "/allocations/object/bytes",
        "/allocations/total/bytes",
        "/gc/cpu_fraction",
        "/gc/next_gc_limit",
        "/gc/pause/since",
        "/gc/pause/total/ns",
        "/gc/pause/max/ns",
        "/gc/pause/p50/ns",
        "/gc/pause/p99/ns",
        "/gc/total/count",
        "/mallocs/count",
        "/system/released/bytes",
        "/system/stack/bytes",
        "/system/total/bytes",
    ];

    /// Every expected file of the fixtures, as the events of one scrape each: the record keeps
    /// the text of each figure the page reads as the event has it, and drops the rest.
    #[test]
    fn a_record_keeps_the_figures_of_the_events_exactly() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut dirs = vec![root];
        let mut files = 0;
        let (mut events_bytes, mut record_bytes) = (0, 0);
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if !path.to_string_lossy().ends_with(".expected.ndjson") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let values: Vec<serde_json::Value> =
                    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                let events: Vec<Event> = text
                    .lines()
                    .zip(&values)
                    .map(|(line, value)| event(line, value.get("error").is_some()))
                    .collect();
                let written = record(&events, &mut None);
                let got: serde_json::Value = serde_json::from_str(&written).unwrap();
                let of =
                    |dataset: &str| values.iter().find(|v| v["data_stream"]["dataset"] == dataset);
                let heap = of("golang.heap").and_then(|v| v["golang"].get("heap"));
                let custom = of("golang.expvar").and_then(|v| v["golang"]["expvar"].get("custom"));
                let error = values.iter().find_map(|v| v.get("error")).map(|e| &e["message"]);
                let answered = values
                    .iter()
                    .any(|v| v["event"]["original"].as_str().is_some_and(|o| !o.is_empty()));
                let name = path.display();
                assert_eq!(got["t"], values[0]["@timestamp"], "{name}");
                // The heap's figures the page reads, each where the event has it; its cmdline.
                let picked = heap.map(|heap| {
                    let mut picked = serde_json::json!({});
                    for path in PAGE_READS {
                        if let Some(value) = heap.pointer(path) {
                            let mut at = &mut picked;
                            for part in path[1..].split('/') {
                                at = &mut at[part];
                            }
                            *at = value.clone();
                        }
                    }
                    picked
                });
                assert_eq!(got.get("heap"), picked.as_ref(), "{name}");
                assert_eq!(got.get("cmdline"), heap.and_then(|h| h.get("cmdline")), "{name}");
                assert_eq!(got.get("heap_event").is_some(), of("golang.heap").is_some(), "{name}");
                assert_eq!(got.get("custom"), custom, "{name}");
                let expvar =
                    of("golang.expvar").is_some_and(|v| v["golang"].get("expvar").is_some());
                assert_eq!(got.get("expvar").is_some(), expvar, "{name}");
                assert_eq!(got.get("error"), error, "{name}");
                assert_eq!(got.get("answered").is_some(), answered, "{name}");
                // Each figure's text as the transform wrote it (a float's digits, a big integer).
                for path in PAGE_READS {
                    if let Some(value) = heap.and_then(|h| h.pointer(path)) {
                        let key = path.rsplit('/').next().unwrap();
                        let text = format!("\"{key}\":{}", serde_json::to_string(value).unwrap());
                        assert!(written.contains(&text), "{name}: {path} changed");
                    }
                }
                // Custom variables are in both, as they were published: not counted.
                let custom_bytes = custom.map_or(0, |c| serde_json::to_string(c).unwrap().len());
                events_bytes += text.len() - custom_bytes;
                record_bytes += written.len() - custom_bytes;
                files += 1;
            }
        }
        assert!(files >= 30, "{files} expected files");
        // The envelope and every event.original are left out.
        assert!(record_bytes * 2 < events_bytes, "{record_bytes} of {events_bytes} bytes");
        eprintln!(
            "records: {record_bytes} bytes for {events_bytes} bytes of events (custom variables aside)"
        );
    }

    #[test]
    fn a_record_of_events_it_cannot_read_says_so() {
        let written =
            record(&[event("not json", true), event("{\"@timestamp\":\"x\"}", false)], &mut None);
        assert_eq!(
            written,
            "{\"t\":\"x\",\"error\":\"the tool wrote an event the page cannot read\"}"
        );
        assert_eq!(record(&[], &mut None), "{}");
    }

    /// A record carries the cmdline when it changed; a page opened later has the last one in
    /// the target's frame.
    #[test]
    fn the_cmdline_is_sent_when_it_changed_and_to_a_page_opened_later() {
        let hub = Hub::new(10, Duration::from_secs(1));
        hub.add_target(1, "http://127.0.0.1:1", &Label::default());
        let (_, mut live) = hub.subscribe();
        assert!(live.try_recv().is_err());
        for (n, cmdline) in ["a", "a", "b"].iter().enumerate() {
            let json = format!(
                "{{\"@timestamp\":\"{n}\",\"data_stream\":{{\"dataset\":\"golang.heap\"}},\"golang\":{{\"heap\":{{\"cmdline\":[\"{cmdline}\"],\"mallocs\":{{\"count\":18446744073709551615,\"other\":1}},\"allocations\":{{\"idle\":{{\"bytes\":5}}}}}}}}}}"
            );
            hub.publish(1, &[event(&json, false)]);
        }
        let frames: Vec<String> =
            (0..3).map(|_| String::from_utf8(live.try_recv().unwrap().to_vec()).unwrap()).collect();
        let heap = "\"heap\":{\"mallocs\":{\"count\":18446744073709551615}}";
        assert_eq!(
            frames,
            [
                format!(
                    "data: {{\"target\":1,\"scrape\":{{\"t\":\"0\",{heap},\"cmdline\":[\"a\"],\"heap_event\":true}}}}\n\n"
                ),
                format!(
                    "data: {{\"target\":1,\"scrape\":{{\"t\":\"1\",{heap},\"heap_event\":true}}}}\n\n"
                ),
                format!(
                    "data: {{\"target\":1,\"scrape\":{{\"t\":\"2\",{heap},\"cmdline\":[\"b\"],\"heap_event\":true}}}}\n\n"
                ),
            ]
        );
        let history = text(&hub.subscribe().0);
        assert!(
            history.contains(
                "event: target\ndata: {\"address\":\"http://127.0.0.1:1\",\"id\":1,\"cmdline\":[\"b\"]}\n\n"
            ),
            "{history}"
        );
    }

    /// A long history goes out in `history` frames of at most HISTORY_FRAME_BYTES of records
    /// (a record larger than that alone in its own), every kept record once and in order.
    #[test]
    fn a_long_history_is_sent_in_few_frames_with_every_record_in_order() {
        let hub = Hub::new(5000, Duration::from_secs(1));
        hub.add_target(3, "http://127.0.0.1:3", &Label::default());
        let big = "z".repeat(HISTORY_FRAME_BYTES + 10);
        for n in 0..5000 {
            let custom = if n == 2500 { big.as_str() } else { "" };
            hub.publish(
                3,
                &[event(
                    &format!(
                        "{{\"@timestamp\":\"{n:064}\",\"data_stream\":{{\"dataset\":\"golang.expvar\"}},\"golang\":{{\"expvar\":{{\"custom\":{{\"x\":\"{custom}\"}}}}}}}}"
                    ),
                    false,
                )],
            );
        }
        let (frames, _) = hub.subscribe();
        let mut seen = Vec::new();
        let mut history_frames = 0;
        for frame in &frames {
            let text = std::str::from_utf8(frame).unwrap();
            let Some(data) = text.strip_prefix("event: history\ndata: ") else { continue };
            history_frames += 1;
            let data = data.strip_suffix("\n\n").unwrap();
            assert!(!data.contains('\n'));
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            assert_eq!(value["target"], 3);
            let scrapes = value["scrapes"].as_array().unwrap();
            let records = data.len() - "{\"target\":3,\"scrapes\":[]}".len();
            assert!(records < HISTORY_FRAME_BYTES || scrapes.len() == 1, "{records} bytes");
            seen.extend(scrapes.iter().map(|s| s["t"].as_str().unwrap().parse::<u64>().unwrap()));
        }
        assert_eq!(seen, (0..5000).collect::<Vec<_>>());
        // About 150 bytes a record: some 3 frames, and the big record's own.
        assert!((3..=6).contains(&history_frames), "{history_frames} frames");
    }

    #[test]
    fn a_target_of_large_bodies_keeps_fewer_scrapes() {
        let hub = Hub::new(1000, Duration::from_secs(1));
        hub.add_target(1, "http://127.0.0.1:1", &Label::default());
        let big = format!(
            "{{\"data_stream\":{{\"dataset\":\"golang.expvar\"}},\"golang\":{{\"expvar\":{{\"custom\":{{\"x\":\"{}\"}}}}}}}}",
            "y".repeat(1 << 20)
        );
        for _ in 0..40 {
            hub.publish(1, &[event(&big, false)]);
        }
        let kept = hub.subscribe().0.iter().map(Bytes::len).sum::<usize>();
        assert!(kept <= MAX_KEPT_BYTES + 4096, "{kept} bytes kept");
        assert!(kept >= MAX_KEPT_BYTES - (2 << 20), "{kept} bytes kept");
    }
}
