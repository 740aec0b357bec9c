//! The `expvar-heap` command as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use expvar_heap::Collector;
use expvar_heap_test_support::conformance::conformance_dir;
use expvar_heap_test_support::fixtures::{self, BLESS_TIME, root_fixture};
use expvar_heap_test_support::{component_bytes, root};

const TIME: &str = "2026-01-01T00:00:00Z";

fn expvar_heap(args: &[&str], stdin: &[u8]) -> Output {
    component_bytes(); // fail early, with advice, when the component was not built
    let mut child = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed(&mut child, stdin);
    child.wait_with_output().unwrap()
}

/// Writes `input` to the child's standard input from another thread (so that a child writing
/// much before it reads cannot block on us) and closes it. A child may exit before reading it (a
/// bad option, a component that cannot be loaded): its closed pipe is then no failure of the test.
fn feed(child: &mut std::process::Child, input: &[u8]) {
    let mut pipe = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || match pipe.write_all(&input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    });
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The events of fixtures taken as one process's bodies, in order, by the native collector with
/// the options `--dataset all --time 2026-01-01T00:00:00Z` stands for.
fn collected(names: &[&str]) -> String {
    let mut collector = Collector::new(fixtures::bless_options());
    let events: Vec<expvar_heap::Event> = names
        .iter()
        .flat_map(|name| collector.push(&std::fs::read(root_fixture(name)).unwrap(), BLESS_TIME))
        .collect();
    fixtures::events_text(&events)
}

#[test]
fn transforms_files_in_order_through_the_component() {
    let names = ["go1.19/alloc/01.json", "go1.22/gc/04.json", "bad/truncated.body"];
    let paths: Vec<String> = names.iter().map(|n| format!("fixtures/{n}")).collect();
    let mut args = vec!["transform", "--dataset", "all", "--time", TIME];
    args.extend(paths.iter().map(String::as_str));
    let output = expvar_heap(&args, b"");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), collected(&names));
    assert!(
        stderr(&output).contains("3 bodies -> 6 events (2 with error.message) in the component")
    );
}

#[test]
fn native_and_component_print_the_same_events() {
    let args = [
        "transform",
        "--time",
        TIME,
        "--preserve-original",
        "--tag",
        "a",
        "fixtures/go1.27/custom/02.json",
    ];
    let component = expvar_heap(&args, b"");
    let native = expvar_heap(&[&args[..], &["--native"]].concat(), b"");
    assert!(component.status.success() && native.status.success());
    assert_eq!(stdout(&component), stdout(&native));
    assert!(stdout(&native).contains(r#""tags":["preserve_original_event","a"]"#));
}

#[test]
fn reads_stdin_and_lines() {
    let body = std::fs::read(root_fixture("go1.19/idle/01.json")).unwrap();
    let output = expvar_heap(&["transform", "--dataset", "all", "--time", TIME], &body);
    assert_eq!(stdout(&output), collected(&["go1.19/idle/01.json"]));

    let log = std::fs::read(conformance_dir().join("test-heap-metrics.log")).unwrap();
    let lines = [&log[..], b"\n\nnot json\n"].concat();
    let output = expvar_heap(&["transform", "--lines", "--time", TIME, "-"], &lines);
    assert!(output.status.success());
    let printed = stdout(&output);
    let events: Vec<&str> = printed.lines().collect();
    assert_eq!(events.len(), 2, "{printed}");
    assert!(!events[0].contains(r#""error""#), "{}", events[0]);
    assert!(events[1].contains(r#""error":{"message":"body is not valid JSON"#), "{}", events[1]);
}

#[test]
fn an_unreadable_file_fails_the_run_but_not_the_other_files() {
    let output = expvar_heap(
        &[
            "transform",
            "--time",
            TIME,
            "fixtures/no-such-file.json",
            "fixtures/go1.19/idle/02.json",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read fixtures/no-such-file.json"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output).lines().count(), 1);
}

#[test]
fn a_body_over_the_size_limit_becomes_an_error_event() {
    let output = expvar_heap(
        &["transform", "--time", TIME, "--max-body-bytes", "1000", "fixtures/go1.19/idle/02.json"],
        b"",
    );
    assert!(output.status.success());
    let event: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let message = event["error"]["message"].as_str().unwrap();
    // What was kept, as it was: the limit and one byte, which told that the body was over it.
    assert_eq!(
        message,
        "body over the size limit of 1000 bytes (--max-body-bytes); event.original keeps its \
         first 1001 bytes"
    );
    let body = std::fs::read_to_string(root_fixture("go1.19/idle/02.json")).unwrap();
    assert_eq!(event["event"]["original"], body[..1001]);
}

/// Go's multi-line bodies one after another, as `cat a.json b.json | expvar-heap transform`
/// gives them, are the bodies of one process, in order.
#[test]
fn reads_bodies_given_one_after_another() {
    let names = ["go1.22/gc/01.json", "go1.22/gc/02.json", "go1.22/gc/03.json"];
    let concatenated: Vec<u8> =
        names.iter().flat_map(|name| std::fs::read(root_fixture(name)).unwrap()).collect();
    let output = expvar_heap(&["transform", "--dataset", "all", "--time", TIME], &concatenated);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), collected(&names));
    // An offset in --time is the same instant.
    let output = expvar_heap(
        &["transform", "--dataset", "all", "--time", "2026-01-01T01:00:00+01:00"],
        &concatenated,
    );
    assert_eq!(stdout(&output), collected(&names));
}

/// Splitting is the inverse of concatenating: `cat a.json b.json | expvar-heap transform
/// --preserve-original` keeps in each event exactly the bytes of its file, final newline and all.
#[test]
fn each_body_keeps_its_bytes_however_they_are_framed() {
    let names = ["go1.19/idle/01.json", "go1.27/gc/02.json"];
    let files: Vec<Vec<u8>> =
        names.iter().map(|n| std::fs::read(root_fixture(n)).unwrap()).collect();
    assert!(files.iter().all(|file| file.ends_with(b"}\n")), "Go ends its body with a newline");
    let originals = |output: &Output| -> Vec<String> {
        stdout(output)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .map(|event| event["event"]["original"].as_str().unwrap().to_owned())
            .collect()
    };
    let args = ["transform", "--preserve-original", "--time", TIME];
    let output = expvar_heap(&args, &files.concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        originals(&output),
        files.iter().map(|f| String::from_utf8_lossy(f)).collect::<Vec<_>>()
    );
    // One file given by name: its whole content.
    let output = expvar_heap(&[&args[..], &["fixtures/go1.19/idle/01.json"]].concat(), b"");
    assert_eq!(originals(&output), [String::from_utf8_lossy(&files[0])]);
}

/// A Go body saved with a byte order mark is one error event holding the whole body, not one per
/// line; the bodies before it are transformed as usual.
#[test]
fn a_body_with_a_byte_order_mark_is_one_error_event_that_keeps_it() {
    let go = std::fs::read(root_fixture("go1.19/idle/01.json")).unwrap();
    let with_bom = [&b"\xef\xbb\xbf"[..], &go].concat();
    let output = expvar_heap(&["transform", "--time", TIME], &[&go[..], &with_bom].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    let events: Vec<serde_json::Value> =
        stdout(&output).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(events.len(), 2, "{}", stdout(&output));
    assert!(events[0].get("error").is_none());
    assert_eq!(
        events[1]["error"]["message"],
        "body is not valid JSON: expected a JSON value at line 1 column 1 (the body starts with a \
         UTF-8 byte order mark (U+FEFF), which JSON does not allow: save it without one)"
    );
    assert_eq!(events[1]["event"]["original"].as_str().unwrap().as_bytes(), with_bom);
}

/// Events that cannot be written (a full disk) fail the run with the system's reason.
#[test]
fn events_that_cannot_be_written_fail_the_run_with_the_reason() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_expvar-heap"))
        .args(["transform", "--time", TIME, "fixtures/go1.19/idle/02.json"])
        .current_dir(root())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "expvar-heap: cannot write the events: No space left on device (os error 28)\n"
    );
}

#[test]
fn bad_options_and_a_broken_component_are_clear_errors() {
    let output = expvar_heap(&["transform", "--namespace", "Prod-EU"], b"{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid namespace \"Prod-EU\""), "{}", stderr(&output));

    let output = expvar_heap(&["transform", "--component", "fixtures/go1.19/idle/01.json"], b"{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot load the component fixtures/go1.19/idle/01.json"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

/// A body the component traps on (here: past its deadline) is kept in an error event that
/// says, in a few words, what stopped it; the whole trap goes to stderr, and the status is 1.
///
/// The deadline is one the collector's creation (a call too, well under 10 ms) always meets, even
/// on a busy machine, and this body never does: 200,000 custom variables with both datasets are
/// seconds of work for the component, not 300 ms (the epoch ticks every 10 ms, so a deadline of
/// one tick could also cut the creation, or miss a body that ends before the tick).
#[test]
fn a_trap_is_an_error_event_that_says_what_stopped_it() {
    let mut body = String::from("{");
    for i in 0..200_000 {
        body.push_str(&format!(r#""v{i:06}":{{"a":[{i},2.5,"x"],"b":"yyyy"}},"#));
    }
    body.push_str(r#""memstats":{"NumGC":1}}"#);
    let output =
        expvar_heap(&["transform", "--dataset", "all", "--call-timeout", "300ms"], body.as_bytes());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("wasm backtrace"), "{}", stderr(&output));
    let printed = stdout(&output);
    assert_eq!(printed.lines().count(), 2, "an error event per dataset");
    for line in printed.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            event["error"]["message"],
            "the component trapped on this body: wasm trap: interrupt (it ran past --call-timeout)"
        );
        assert_eq!(event["event"]["original"], body.as_str());
    }
}

#[test]
fn help_explains_every_option() {
    let output = expvar_heap(&["transform", "--help"], b"");
    let help = stdout(&output);
    for option in [
        "--namespace",
        "--tag",
        "--preserve-original",
        "--service-address",
        "--time",
        "--component",
        "--native",
        "--dataset",
        "--lines",
        "--max-body-bytes",
        "--max-memory-bytes",
        "--call-timeout",
    ] {
        assert!(help.contains(option), "--help does not mention {option}");
    }
    let help = stdout(&expvar_heap(&["--help"], b""));
    assert!(help.contains("embedded"), "{help}");
}

/// The example sequence of pause windows in `docs/events.md` is what the tool prints for those
/// files.
#[test]
fn the_documented_pause_example_is_true() {
    let files = [
        "fixtures/go1.22/gc/01.json",
        "fixtures/go1.22/gc/02.json",
        "fixtures/go1.22/gc/03.json",
        "fixtures/go1.22/gc/04.json",
        "fixtures/go1.22/restart/04.json",
        "fixtures/go1.22/restart/05.json",
    ];
    let output = expvar_heap(&[&["transform", "-q"][..], &files].concat(), b"");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: Vec<String> = stdout(&output)
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let gc = &event["golang"]["heap"]["gc"];
            let pause = &gc["pause"];
            let missed =
                pause["missed"]["count"].as_u64().map_or("—".to_owned(), |m| m.to_string());
            let figures = [
                &gc["total"]["count"],
                &pause["count"],
                &pause["sum"]["ns"],
                &pause["max"]["ns"],
                &pause["avg"]["ns"],
            ];
            let figures: Vec<String> = figures.iter().map(|v| v.to_string()).collect();
            format!("| {} | {missed} |", figures.join(" | "))
        })
        .collect();
    let readme = std::fs::read_to_string(root().join("docs/events.md")).unwrap();
    let table: Vec<String> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| `gc.total.count`"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.replace(" (restart)", ""))
        .collect();
    assert_eq!(printed, table);
}

/// As from `dist/`: the program copied alone into an empty folder (no component beside it, no
/// source tree) runs the component embedded in it, and says so.
#[test]
fn a_binary_copied_alone_runs_its_embedded_component() {
    let dir = std::env::temp_dir().join(format!("expvar-heap-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("expvar-heap");
    // Copied by another process: a file this process wrote could still be open for writing in
    // a child another test thread is forking at that moment, until that child execs, and running
    // it would fail with ETXTBSY ("Text file busy"). `cp` holds the only descriptor and has
    // exited when its status is back.
    let copied = Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_expvar-heap"))
        .arg(&exe)
        .status()
        .expect("running cp");
    assert!(copied.success());
    let body = std::fs::read(root_fixture("go1.22/alloc/03.json")).unwrap();
    let mut child = Command::new(&exe)
        .args(["transform", "--dataset", "all", "--time", TIME, "-"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed(&mut child, &body);
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), collected(&["go1.22/alloc/03.json"]));
    assert!(
        stderr(&output).contains("1 bodies -> 2 events (0 with error.message) in the component"),
        "{}",
        stderr(&output)
    );
}

/// An expvar custom variable can hold the text `"error":{"message"`: the summary counts error
/// events from what the transform says, not by searching the text.
#[test]
fn the_summary_counts_error_events_not_error_text() {
    let body = br#"{"error":{"message":"x"},"memstats":{"NumForcedGC":1}}"#;
    let output = expvar_heap(&["transform", "--dataset", "expvar", "--time", TIME], body);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(r#""custom":{"error":{"message":"x"}}"#),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains("(0 with error.message)"), "{}", stderr(&output));
}

/// `templates` prints, writes and picks out exactly the generated templates (the golden files).
#[test]
fn templates_are_printed_written_and_picked_out() {
    use expvar_heap_test_support::template_path;
    let golden =
        |target: &str, path: &str| std::fs::read_to_string(template_path(target, path)).unwrap();
    let paths = [
        "_component_template/expvar-heap-envelope",
        "_component_template/expvar-heap-logs-golang.heap-fields",
        "_component_template/expvar-heap-logs-golang.expvar-fields",
        "_index_template/expvar-heap-logs-golang.heap",
        "_index_template/expvar-heap-logs-golang.expvar",
    ];
    let printed = stdout(&expvar_heap(&["templates"], b""));
    let expected: String =
        paths.iter().map(|p| format!("PUT {p}\n{}\n", golden("elasticsearch", p))).collect();
    assert_eq!(printed, expected);

    let only = expvar_heap(&["templates", "--target", "opensearch", "--only", paths[3]], b"");
    assert_eq!(stdout(&only), golden("opensearch", paths[3]));

    let dir = std::env::temp_dir().join(format!("expvar-heap-templates-{}", std::process::id()));
    let out =
        expvar_heap(&["templates", "--target", "opensearch", "--out", dir.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    for path in paths {
        let written = std::fs::read_to_string(dir.join(format!("{path}.json"))).unwrap();
        assert_eq!(written, golden("opensearch", path));
        assert!(stdout(&out).contains(&format!("curl -X PUT \"$ES/{path}\"")), "{}", stdout(&out));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let unknown = expvar_heap(&["templates", "--target", "solr"], b"");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("elasticsearch or opensearch"), "{}", stderr(&unknown));
}

/// Successive bodies whose `GCCPUFraction` goes from 0 to 0.17: both stay floats in the NDJSON.
#[test]
fn cpu_fraction_stays_a_float_in_the_ndjson() {
    let lines = b"{\"memstats\":{\"GCCPUFraction\":0,\"NumGC\":0}}\n{\"memstats\":{\"GCCPUFraction\":0.17,\"NumGC\":3}}\n";
    let output = expvar_heap(&["transform", "--lines", "--time", TIME, "-"], lines);
    let printed = stdout(&output);
    let events: Vec<&str> = printed.lines().collect();
    assert!(events[0].contains(r#""cpu_fraction":0.0,"#), "{}", events[0]);
    assert!(events[1].contains(r#""cpu_fraction":0.17,"#), "{}", events[1]);
}
