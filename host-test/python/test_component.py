"""The component in Python with the `wasmtime` package: every fixture must give exactly its
expected events (compared as text, so integers above 2^53 are compared exactly), and the collector
must agree with Elastic's PR #4908 pipeline test. Run by `cargo xtask test`."""

import pathlib

import pytest
import wasmtime
from wasmtime import component

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "target" / "component" / "expvar-heap.wasm"
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "elastic-golang-1.6.0"
# Every expected event was made with this time and both datasets
# (host-test/support/src/fixtures.rs).
BLESS_SECONDS = 1767225600


class Processor:
    """The component's exports, looked up once."""

    def __init__(self):
        assert COMPONENT.is_file(), f"{COMPONENT} is missing: run cargo xtask build"
        engine = wasmtime.Engine()
        self.store = wasmtime.Store(engine)
        loaded = component.Component.from_file(engine, str(COMPONENT))
        self.instance = component.Linker(engine).instantiate(self.store, loaded)
        transform = self.instance.get_export_index(self.store, "golang:expvar/transform@0.2.0")
        self.default_options = self.func("default-options", transform)
        self.transform = self.func("transform", transform)

    def func(self, name, interface):
        return self.instance.get_func(self.store, self.instance.get_export_index(self.store, name, interface))

    def options(self, **changes):
        options = self.default_options(self.store)
        for name, value in changes.items():
            setattr(options, name, value)
        return options

    def collected_at(self, seconds):
        time = type(self.options())()  # a record; its fields are the WIT names
        time.seconds, time.nanoseconds = seconds, 0
        return time


@pytest.fixture(scope="module")
def processor():
    return Processor()


def fixture_inputs():
    fixtures = ROOT / "fixtures"
    return sorted(
        path
        for folder in fixtures.iterdir()
        if folder.is_dir() and (folder.name == "bad" or folder.name.startswith("go"))
        for path in folder.rglob("*")
        if path.suffix in (".json", ".body")
    )


def test_every_fixture_gives_its_expected_events(processor):
    inputs = fixture_inputs()
    assert len(inputs) >= 70
    options = processor.options(datasets={"heap", "expvar"})
    time = processor.collected_at(BLESS_SECONDS)
    for path in inputs:
        events = processor.transform(processor.store, path.read_bytes(), time, options)
        expected = path.with_name(path.stem + ".expected.ndjson").read_text()
        assert "".join(f"{event.json}\n" for event in events) == expected, path
        for event in events:
            assert getattr(event, "has-error") == ('"error":{"message"' in event.json), path


def test_default_options_are_the_integration_defaults(processor):
    options = processor.options()
    assert (options.namespace, getattr(options, "ecs-version")) == ("default", "8.11.0")
    assert options.datasets == {"heap"}
    assert options.tags == []


def test_invalid_options_are_an_error(processor):
    # wasmtime-py gives a `result`'s ok and err payloads as they are: a list of events, or the
    # error's string.
    options = processor.options(namespace="Prod-EU")
    result = processor.transform(processor.store, b"{}", processor.collected_at(0), options)
    assert isinstance(result, str) and result.startswith('invalid namespace "Prod-EU"'), result


def test_collector_agrees_with_elastics_pr_4908_pause_test(processor):
    collector_api = processor.instance.get_export_index(processor.store, "golang:expvar/collector@0.2.0")
    create = processor.func("[static]collector.create", collector_api)
    push = processor.func("[method]collector.push", collector_api)
    collector = create(processor.store, processor.options())
    # wasmtime-py gives a `result`'s payload as it is: the collector, or the error's string.
    assert not isinstance(collector, str), collector
    refused = create(processor.store, processor.options(namespace="a-b"))
    assert isinstance(refused, str) and refused.startswith('invalid namespace "a-b"'), refused
    body = (CONFORMANCE / "gc-pause-pr4908" / "test-heap-metrics.log").read_bytes().strip()
    [event] = push(processor.store, collector, body, processor.collected_at(BLESS_SECONDS))
    assert getattr(event, "has-error") is False
    # The event's text, not a parsed object: numbers stay exact.
    assert '"pause":{"avg":{"ns":66902.0},"count":6,"max":{"ns":111861},"p50":{"ns":49736},"p90":{"ns":111861},"p99":{"ns":111861},"since":"previous_body","sum":{"ns":401412},"total":{"ns":484694}}' in event.json
