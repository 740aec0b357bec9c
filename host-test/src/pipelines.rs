//! Drives the pipeline modules through wasmtime exactly as their hosts do, since neither Fluent
//! Bit nor Redpanda Connect can be installed here: the same calls, the same memory handling.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use wasmtime::{Caller, Config, Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

const PAGE: usize = 64 << 10;

/// The filter's `Function_Name` and `Wasm_Heap_Size` (in bytes) as the example `fluent-bit.conf`
/// sets them, so that the harness runs the module as it is configured.
pub fn fluent_bit_conf() -> (String, usize) {
    let path =
        expvar_heap_test_support::root().join("crates/expvar-heap-fluent-bit/fluent-bit.conf");
    let conf = std::fs::read_to_string(&path).expect("the example fluent-bit.conf");
    let setting = |name: &str| {
        let line = conf.lines().find(|l| l.trim_start().starts_with(name)).expect(name);
        line.split_whitespace().nth(1).expect(name).to_owned()
    };
    let heap = setting("Wasm_Heap_Size");
    let megabytes: usize =
        heap.strip_suffix('M').and_then(|m| m.parse().ok()).expect("a size in M");
    (setting("Function_Name"), megabytes << 20)
}

/// An engine that counts the WebAssembly instructions each call executes (wasmtime's fuel: one
/// unit per instruction, deterministic), for harnesses loaded with it.
pub fn counting_engine() -> Engine {
    let mut config = Config::new();
    config.consume_fuel(true);
    Engine::new(&config).expect("a fuel-counting engine")
}

/// Fuel given to each call of a counting harness: far more than any call executes.
const CALL_FUEL: u64 = u64::MAX / 2;

/// Runs `call` in `store`, returning what it gave and, when the engine counts fuel, the
/// instructions it executed.
fn counted<S, T>(store: &mut Store<S>, call: impl FnOnce(&mut Store<S>) -> T) -> (T, Option<u64>) {
    let counting = store.set_fuel(CALL_FUEL).is_ok();
    let result = call(store);
    let used = counting.then(|| CALL_FUEL - store.get_fuel().unwrap_or(CALL_FUEL));
    (result, used)
}

/// Fluent Bit's `filter_wasm` (ABI v1, `Event_Format json`) as WAMR runs it: the tag and record
/// are copied, NUL-terminated, into an app heap of `Wasm_Heap_Size` bytes that WAMR adds to the
/// module's linear memory (the module's own allocator never touches it); the function is called;
/// the NUL-terminated string at the returned pointer is copied out. One instance for every call.
///
/// As in Fluent Bit 5.1.1 (`flb_wasm.c`), a tag or record that does not fit in the app heap is not
/// copied, and the function is called all the same with a null (0) pointer and the real length.
pub struct FluentBitFilter {
    store: Store<()>,
    memory: Memory,
    filter: TypedFunc<(u32, u32, u32, u32, u32, u32), u32>,
    heap_start: usize,
    heap_size: usize,
    last_instructions: Option<u64>,
}

impl FluentBitFilter {
    /// Loads the module with an app heap of `heap_size` bytes (Fluent Bit's `Wasm_Heap_Size`).
    pub fn load(path: &Path, function: &str, heap_size: usize) -> Result<FluentBitFilter> {
        FluentBitFilter::load_in(&Engine::default(), path, function, heap_size)
    }

    /// [`FluentBitFilter::load`] in `engine` (a [`counting_engine`] counts each call).
    pub fn load_in(
        engine: &Engine,
        path: &Path,
        function: &str,
        heap_size: usize,
    ) -> Result<FluentBitFilter> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(engine, bytes)?;
        let mut store = Store::new(engine, ());
        store.set_fuel(CALL_FUEL).ok();
        let instance = Linker::new(engine).instantiate(&mut store, &module)?;
        let memory = instance.get_memory(&mut store, "memory").context("no exported memory")?;
        let pages = heap_size.div_ceil(PAGE) as u64;
        let heap_start = memory.grow(&mut store, pages)? as usize * PAGE;
        let filter = instance.get_typed_func(&mut store, function)?;
        let last_instructions = None;
        Ok(FluentBitFilter { store, memory, filter, heap_start, heap_size, last_instructions })
    }

    /// One record through the filter: its new body, or `None` when the module dropped it.
    pub fn call(
        &mut self,
        tag: &str,
        seconds: u32,
        nanoseconds: u32,
        record: &[u8],
    ) -> Result<Option<String>> {
        // WAMR's module_dup_data for the tag, then for the record: each fails (0) when the app
        // heap has no room left for it and its NUL.
        let mut free = self.heap_start..self.heap_start + self.heap_size;
        let tag_at = self.copy_in(&mut free, tag.as_bytes());
        let record_at = self.copy_in(&mut free, record);
        let args = (tag_at, tag.len() as u32, seconds, nanoseconds, record_at, record.len() as u32);
        let filter = self.filter.clone();
        let (result, used) = counted(&mut self.store, |store| filter.call(store, args));
        self.last_instructions = used;
        let result = result? as usize;
        if result == 0 {
            return Ok(None);
        }
        let data = self.memory.data(&self.store);
        let len =
            data[result..].iter().position(|&b| b == 0).context("result is not NUL-terminated")?;
        let text = String::from_utf8(data[result..result + len].to_vec())?;
        Ok((!text.is_empty()).then_some(text))
    }

    /// Copies `bytes` and a NUL into the free part of the app heap, returning where, or 0 (a null
    /// pointer) when they do not fit.
    fn copy_in(&mut self, free: &mut std::ops::Range<usize>, bytes: &[u8]) -> u32 {
        if bytes.len() + 1 > free.len() {
            return 0;
        }
        let at = free.start;
        let data = self.memory.data_mut(&mut self.store);
        data[at..at + bytes.len()].copy_from_slice(bytes);
        data[at + bytes.len()] = 0;
        free.start += bytes.len() + 1;
        at as u32
    }

    /// The module's linear memory, in bytes (app heap included).
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// The instructions the module executed in the last call, when the engine counts them.
    pub fn last_call_instructions(&self) -> Option<u64> {
        self.last_instructions
    }
}

/// A message as Redpanda Connect's `wasm` processor works on it: content, metadata, and the error
/// flag the processor sets when one of its functions failed for it (`SetError`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub content: Vec<u8>,
    pub meta: HashMap<String, String>,
    pub error: Option<String>,
}

impl Message {
    /// A message of `content`.
    pub fn new(content: Vec<u8>) -> Message {
        Message { content, ..Message::default() }
    }

    /// The message with the metadata `key` set to `value` (as a `mapping` before the processor
    /// sets it).
    pub fn with_meta(mut self, key: &str, value: impl ToString) -> Message {
        self.meta.insert(key.to_owned(), value.to_string());
        self
    }
}

/// What a [`RedpandaProcessor`] saw the module do that breaks the processor's memory contract;
/// the real processor would go on (corrupting the module's allocator, or failing later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractBreach(pub String);

/// The state of one instance between the host functions of a call (`moduleRunner`'s fields in
/// `processor_wazero.go`).
struct RunnerState {
    /// `targetMessage`: the message of the current `process` call.
    target: Option<Message>,
    /// `procErr`: the last error a host function met in this call (`funcErr`).
    proc_err: Option<String>,
    /// `afterProcessing`: the in-bound pointers, for a Go guest's `free` after the call.
    after_processing: Vec<u32>,
    /// How often the module read the wall clock (wazero's fake clock moves 1 ms a read).
    clock_reads: u64,
    /// The first byte of linear memory that the module's allocator can hand out (past its stack
    /// and static data): every out-bound block must lie at or above it.
    heap_start: u64,
    breaches: Vec<ContractBreach>,
    /// A fault to inject: the next write of a message's content into the module fails, as the
    /// processor's `Memory().Write` can.
    fail_content_write: bool,
}

/// The module's exported function `name`, typed, when it has one.
fn guest_func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    caller: &mut Caller<'_, RunnerState>,
    name: &str,
) -> wasmtime::Result<Option<TypedFunc<P, R>>> {
    match caller.get_export(name).and_then(|e| e.into_func()) {
        Some(func) => Ok(Some(func.typed::<P, R>(&*caller)?)),
        None => Ok(None),
    }
}

/// `allocateBytesInbound`: the module's `malloc` (a Go guest's) and then its `allocate` (a Rust
/// guest's) are called when exported, the last one's pointer kept; the pointer is queued for
/// `free` after the call; the bytes are written there. Host-side failures are `Err(message)` as
/// the processor words them; a trap of the module's function is the trap.
fn allocate_inbound(
    caller: &mut Caller<'_, RunnerState>,
    data: &[u8],
    fail_write: bool,
) -> wasmtime::Result<Result<u64, String>> {
    let len = data.len() as u32;
    // A trap of the module's function is the error wazero's `Call` returns: the processor
    // reports it like any other (and the last call's answer wins, as `results` is overwritten).
    let mut answer = None;
    if let Some(malloc) = guest_func::<u32, u32>(caller, "malloc")? {
        answer = Some(malloc.call(&mut *caller, len));
    }
    if let Some(allocate) = guest_func::<u32, u32>(caller, "allocate")? {
        answer = Some(allocate.call(&mut *caller, len));
    }
    let ptr = match answer {
        Some(Err(trap)) => return Ok(Err(format!("{trap}"))),
        Some(Ok(ptr)) => Some(ptr),
        None => None,
    };
    // The processor indexes `results[0]` unchecked: a module with neither export panics the
    // host. Reported here as a trap.
    let ptr = ptr.ok_or_else(|| wasmtime::Error::msg("the module exports no allocate"))?;
    caller.data_mut().after_processing.push(ptr);
    let memory = exported_memory(caller)?;
    if fail_write || memory.write(&mut *caller, ptr as usize, data).is_err() {
        return Ok(Err("writing in-bound memory".to_owned()));
    }
    Ok(Ok((u64::from(ptr) << 32) | u64::from(len)))
}

/// `readBytesOutbound`: copies `len` bytes at `ptr` out of the module, then calls the module's
/// `deallocate(ptr, len)` when it exports one, ignoring its failure as the processor does.
/// Beyond the processor, records a [`ContractBreach`] when the block is not in the module's heap
/// (static data or the stack, which `deallocate` must never see) or `deallocate` trapped. A
/// read out of bounds ("prevented read") flags the message with the caller's `failed` wording,
/// as each host function of `functions.go` does, and gives `None`.
fn read_outbound(
    caller: &mut Caller<'_, RunnerState>,
    what: &str,
    failed: &str,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<Option<Vec<u8>>> {
    let memory = exported_memory(caller)?;
    let mut bytes = vec![0; len as usize];
    if memory.read(&*caller, ptr as usize, &mut bytes).is_err() {
        func_err(caller, format!("{failed}: prevented read"));
        return Ok(None);
    }
    let heap_start = caller.data().heap_start;
    if len != 0 && u64::from(ptr) < heap_start {
        let breach = format!(
            "{what}: the block at {ptr:#x} ({len} bytes) is not from the module's allocator (its \
             heap starts at {heap_start:#x}), yet the processor frees it with deallocate"
        );
        caller.data_mut().breaches.push(ContractBreach(breach));
    }
    if let Some(deallocate) = guest_func::<(u32, u32), ()>(caller, "deallocate")?
        && let Err(trap) = deallocate.call(&mut *caller, (ptr, len))
    {
        let breach = format!("{what}: deallocate({ptr:#x}, {len}) trapped: {trap}");
        caller.data_mut().breaches.push(ContractBreach(breach));
    }
    Ok(Some(bytes))
}

fn exported_memory(caller: &mut Caller<'_, RunnerState>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))
}

/// `funcErr`: the processor keeps the last error of the call (and logs it).
fn func_err(caller: &mut Caller<'_, RunnerState>, error: String) {
    caller.data_mut().proc_err = Some(error);
}

/// The first byte past the module's stack and static data: the end of its last active data
/// segment, the initial value of its mutable i32 globals (the stack pointer) and its
/// `__heap_base`, whichever is highest.
fn heap_start(bytes: &[u8]) -> Result<u64> {
    use wasmparser::{DataKind, Operator, Payload};
    let const_i32 = |expr: &wasmparser::ConstExpr<'_>| -> Option<u64> {
        match expr.get_operators_reader().read().ok()? {
            Operator::I32Const { value } => Some(u64::from(value as u32)),
            _ => None,
        }
    };
    let mut start = 0;
    let mut globals = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::GlobalSection(section) => {
                for global in section {
                    let global = global?;
                    globals.push(const_i32(&global.init_expr).unwrap_or(0));
                    if global.ty.mutable {
                        start = start.max(*globals.last().unwrap());
                    }
                }
            }
            Payload::ExportSection(section) => {
                for export in section {
                    let export = export?;
                    if export.name == "__heap_base"
                        && export.kind == wasmparser::ExternalKind::Global
                    {
                        start = start.max(globals.get(export.index as usize).copied().unwrap_or(0));
                    }
                }
            }
            Payload::DataSection(section) => {
                for data in section {
                    let data = data?;
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        let offset = const_i32(&offset_expr).unwrap_or(0);
                        start = start.max(offset + data.data.len() as u64);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(start)
}

/// Redpanda Connect's `wasm` processor as it runs one module instance (`moduleRunner` in
/// `internal/impl/wasm/processor_wazero.go` of redpanda-data/connect, with the host functions of
/// `functions.go`), in wasmtime where the processor uses wazero: `benthos_wasm`'s four functions
/// and WASI's clock; who allocates and who frees exactly as there (see [`allocate_inbound`] and
/// [`read_outbound`]). A [`RedpandaPool`] runs several, as the processor's pool does.
pub struct RedpandaProcessor {
    store: Store<RunnerState>,
    instance: Instance,
    last_instructions: Option<u64>,
    /// Which instance of its pool it is (0 outside a pool).
    id: usize,
}

/// Links the `benthos_wasm` functions of `functions.go` and the WASI clock.
fn redpanda_linker(engine: &Engine) -> Result<Linker<RunnerState>> {
    let mut linker = Linker::<RunnerState>::new(engine);
    // v0_msg_set_bytes: the content is read out-bound (and freed); a failed read is the
    // message's error.
    linker.func_wrap(
        "benthos_wasm",
        "v0_msg_set_bytes",
        |mut caller: Caller<'_, RunnerState>, ptr: u32, len: u32| {
            if caller.data().target.is_none() {
                func_err(&mut caller, "attempted to set bytes of deleted message".to_owned());
                return Ok(());
            }
            let failed = "reading out-bound memory";
            if let Some(bytes) =
                read_outbound(&mut caller, "v0_msg_set_bytes content", failed, ptr, len)?
            {
                caller.data_mut().target.as_mut().unwrap().content = bytes;
            }
            Ok(())
        },
    )?;
    // v0_msg_as_bytes: the content is allocated in-bound; 0 when that failed.
    linker.func_wrap(
        "benthos_wasm",
        "v0_msg_as_bytes",
        |mut caller: Caller<'_, RunnerState>| -> wasmtime::Result<u64> {
            let Some(target) = caller.data().target.as_ref() else {
                func_err(&mut caller, "attempted to read bytes of deleted message".to_owned());
                return Ok(0);
            };
            let content = target.content.clone();
            let fail_write = std::mem::take(&mut caller.data_mut().fail_content_write);
            Ok(allocate_inbound(&mut caller, &content, fail_write)?.unwrap_or_else(|why| {
                func_err(&mut caller, format!("allocating in-bound memory: {why}"));
                0
            }))
        },
    )?;
    // v0_msg_set_meta: the key and then the value are read out-bound (each freed).
    linker.func_wrap(
        "benthos_wasm",
        "v0_msg_set_meta",
        |mut caller: Caller<'_, RunnerState>, kptr: u32, klen: u32, vptr: u32, vlen: u32| {
            if caller.data().target.is_none() {
                func_err(&mut caller, "attempted to set metadata of deleted message".to_owned());
                return Ok(());
            }
            let failed = "reading out-bound meta key memory";
            let Some(key) = read_outbound(&mut caller, "v0_msg_set_meta key", failed, kptr, klen)?
            else {
                return Ok(());
            };
            let failed = "reading out-bound meta value memory";
            let what = "v0_msg_set_meta value";
            let Some(value) = read_outbound(&mut caller, what, failed, vptr, vlen)? else {
                return Ok(());
            };
            let (key, value) = (lossy(key), lossy(value));
            caller.data_mut().target.as_mut().unwrap().meta.insert(key, value);
            Ok(())
        },
    )?;
    // v0_msg_get_meta: the key is read out-bound (and freed); the value, "" when not set, is
    // allocated in-bound.
    linker.func_wrap(
        "benthos_wasm",
        "v0_msg_get_meta",
        |mut caller: Caller<'_, RunnerState>, ptr: u32, len: u32| -> wasmtime::Result<u64> {
            if caller.data().target.is_none() {
                func_err(&mut caller, "attempted to read meta of deleted message".to_owned());
                return Ok(0);
            }
            let failed = "reading out-bound meta key memory";
            let Some(key) = read_outbound(&mut caller, "v0_msg_get_meta key", failed, ptr, len)?
            else {
                return Ok(0);
            };
            let key = lossy(key);
            let target = caller.data().target.as_ref().unwrap();
            let value = target.meta.get(&key).cloned().unwrap_or_default();
            Ok(allocate_inbound(&mut caller, value.as_bytes(), false)?.unwrap_or_else(|why| {
                func_err(&mut caller, format!("allocating in-bound memory: {why}"));
                0
            }))
        },
    )?;
    // The processor instantiates the module with wazero's default ModuleConfig (`newModule`
    // calls `r.Instantiate` with none), which never reads the system's clocks: its wall clock is
    // a fake one that reads 2022-01-01T00:00:00Z first and 1 ms later at each read, per instance
    // (wazero's `ModuleConfig.WithSysWalltime` would give the real one; the processor does not
    // call it). So is its monotonic clock. Other clock ids are EINVAL, a bad pointer EFAULT.
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "clock_time_get",
        |mut caller: Caller<'_, RunnerState>, clock: u32, _precision: u64, out: u32| {
            const EINVAL: u32 = 28;
            const EFAULT: u32 = 21;
            if clock > 1 {
                return Ok(EINVAL);
            }
            let reads = caller.data().clock_reads;
            caller.data_mut().clock_reads += 1;
            let now = (WAZERO_FAKE_EPOCH_NS + reads * 1_000_000).to_le_bytes();
            let memory = exported_memory(&mut caller)?;
            Ok(match memory.write(&mut caller, out as usize, &now) {
                Ok(()) => 0u32,
                Err(_) => EFAULT,
            })
        },
    )?;
    Ok(linker)
}

/// What wazero's fake wall clock reads first: 2022-01-01T00:00:00Z, in ns since the epoch.
pub const WAZERO_FAKE_EPOCH_NS: u64 = 1_640_995_200_000_000_000;

/// Go's `string(bytes)`: keeps the bytes; shown here as UTF-8, lossily.
fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl RedpandaProcessor {
    pub fn load(path: &Path) -> Result<RedpandaProcessor> {
        RedpandaProcessor::load_in(&Engine::default(), path)
    }

    /// [`RedpandaProcessor::load`] in `engine` (a [`counting_engine`] counts each call, host
    /// functions' calls back into the module included).
    pub fn load_in(engine: &Engine, path: &Path) -> Result<RedpandaProcessor> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(engine, &bytes)?;
        RedpandaProcessor::instantiate(&module, heap_start(&bytes)?)
    }

    /// `newModule`: a new instance of `module` (whose heap starts at `heap_start`).
    fn instantiate(module: &Module, heap_start: u64) -> Result<RedpandaProcessor> {
        let engine = module.engine();
        let state = RunnerState {
            target: None,
            proc_err: None,
            after_processing: Vec::new(),
            clock_reads: 0,
            heap_start,
            breaches: Vec::new(),
            fail_content_write: false,
        };
        let mut store = Store::new(engine, state);
        store.set_fuel(CALL_FUEL).ok();
        let instance = redpanda_linker(engine)?.instantiate(&mut store, module)?;
        Ok(RedpandaProcessor { store, instance, last_instructions: None, id: 0 })
    }

    /// `moduleRunner.Run` of a batch of one: the message through the function `process`.
    pub fn process(&mut self, message: Message) -> Result<Message> {
        Ok(self.run(vec![message])?.remove(0))
    }

    /// `moduleRunner.Run` (`internal/impl/wasm/processor_wazero.go`), as the processor's batch
    /// wrapper hands its result on (`v2BatchedToV1Processor.ProcessBatch` in benthos'
    /// `internal/component/processor/auto_observed.go`): each message of the batch in turn; a
    /// host function's failure flags its message with the error (on a copy of the message as it
    /// then is, `Copy` and `SetError`). A trap ends `Run` with the error, and the wrapper passes
    /// every message of the batch on flagged with it (`MarkErr`), each as the module left it:
    /// those before and the one it trapped on with the content it set, those after untouched.
    /// The error strings are Redpanda Connect's since v4.82.0 ("allocating in-bound memory: ...",
    /// "reading out-bound memory: ...").
    pub fn run(&mut self, batch: Vec<Message>) -> Result<Vec<Message>> {
        let process = self.instance.get_typed_func::<(), ()>(&mut self.store, "process")?;
        let free = self.instance.get_typed_func::<u32, ()>(&mut self.store, "free").ok();
        let mut out = Vec::with_capacity(batch.len());
        let mut batch = batch.into_iter();
        while let Some(message) = batch.next() {
            let state = self.store.data_mut();
            state.target = Some(message);
            state.proc_err = None;
            state.after_processing.clear();
            let (result, used) = counted(&mut self.store, |store| process.call(store, ()));
            self.last_instructions = used;
            // afterProcessing: a Go guest's free of each in-bound pointer; nothing for a Rust
            // guest, which owns them.
            for ptr in std::mem::take(&mut self.store.data_mut().after_processing) {
                if let Some(free) = &free
                    && let Err(trap) = free.call(&mut self.store, ptr)
                {
                    let why = format!("freeing in-bound memory: {trap}");
                    self.store.data_mut().proc_err = Some(why);
                }
            }
            let state = self.store.data_mut();
            let mut message = state.target.take().expect("no function deletes a message");
            if let Err(trap) = result {
                // The wrapper flags the batch's own messages: the copies `Run` made are dropped.
                let why = format!("{trap:#}");
                out.push(message);
                out.extend(batch);
                for message in &mut out {
                    message.error = Some(why.clone());
                }
                return Ok(out);
            }
            if let Some(why) = state.proc_err.take() {
                message.error = Some(why);
            }
            out.push(message);
        }
        Ok(out)
    }

    /// Which instance of its pool this is (in the order the pool made them; 0 outside a pool).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Where the module's heap starts: blocks below it are its stack or static data.
    pub fn heap_start(&self) -> u64 {
        self.store.data().heap_start
    }

    /// Makes the processor's next write of a message's content into the module fail (after the
    /// module's `allocate`, as a failed `Memory().Write` does).
    pub fn fail_next_content_write(&mut self) {
        self.store.data_mut().fail_content_write = true;
    }

    /// What the module did that breaks the processor's memory contract, since it was loaded.
    pub fn breaches(&self) -> &[ContractBreach] {
        &self.store.data().breaches
    }

    /// The instructions the module executed in the last call, when the engine counts them.
    pub fn last_call_instructions(&self) -> Option<u64> {
        self.last_instructions
    }

    /// The module's linear memory, in bytes.
    pub fn memory_bytes(&mut self) -> usize {
        let memory = self.instance.get_memory(&mut self.store, "memory").expect("memory");
        memory.data_size(&self.store)
    }
}

/// The `wasm` processor's pool of instances (`wazeroAllocProcessor.modulePool`, a Go
/// `sync.Pool`): one instance is made when the processor starts; each batch takes an idle
/// instance or makes one, runs on it, and puts it back, even after a trap. `sync.Pool` promises
/// no order and drops idle items at any garbage collection, so this pool takes a random idle
/// instance and drops idle ones at random, from a seeded generator (the same seed, the same run).
pub struct RedpandaPool {
    module: Module,
    heap_start: u64,
    idle: Vec<RedpandaProcessor>,
    random: u64,
    /// Out of 1,000 batches, how many find the idle instances dropped first.
    drop_per_mille: u64,
    made: usize,
    breaches: Vec<ContractBreach>,
}

impl RedpandaPool {
    /// The processor's pool of `path`'s module, with its first instance made
    /// (`newWazeroAllocProcessor`); `drop_per_mille` of the batches find the idle instances
    /// gone.
    pub fn load(path: &Path, seed: u64, drop_per_mille: u64) -> Result<RedpandaPool> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(&Engine::default(), &bytes)?;
        let heap_start = heap_start(&bytes)?;
        let first = RedpandaProcessor::instantiate(&module, heap_start)?;
        let random = seed | 1;
        Ok(RedpandaPool {
            module,
            heap_start,
            idle: vec![first],
            random,
            drop_per_mille,
            made: 1,
            breaches: Vec::new(),
        })
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// Takes an instance as `ProcessBatch` does: an idle one at random, or a new one.
    pub fn get(&mut self) -> Result<RedpandaProcessor> {
        if self.next_random() % 1000 < self.drop_per_mille {
            let dropped = std::mem::take(&mut self.idle);
            self.breaches.extend(dropped.iter().flat_map(|p| p.breaches().iter().cloned()));
        }
        if self.idle.is_empty() {
            let mut instance = RedpandaProcessor::instantiate(&self.module, self.heap_start)?;
            instance.id = self.made;
            self.made += 1;
            return Ok(instance);
        }
        let at = (self.next_random() % self.idle.len() as u64) as usize;
        Ok(self.idle.swap_remove(at))
    }

    /// Puts an instance back, as the `defer` of `ProcessBatch` does.
    pub fn put(&mut self, instance: RedpandaProcessor) {
        self.idle.push(instance);
    }

    /// `ProcessBatch`: the batch on one instance of the pool (concurrent batches, as several
    /// pipeline threads run them, are [`RedpandaPool::get`] several times before the `put`s).
    pub fn process_batch(&mut self, batch: Vec<Message>) -> Result<Vec<Message>> {
        let mut instance = self.get()?;
        let result = instance.run(batch);
        self.put(instance);
        result
    }

    /// How many instances the pool has made.
    pub fn instances_made(&self) -> usize {
        self.made
    }

    /// Every breach of the memory contract seen in any instance, dropped ones included.
    pub fn breaches(&self) -> Vec<ContractBreach> {
        let idle = self.idle.iter().flat_map(|p| p.breaches().iter().cloned());
        self.breaches.iter().cloned().chain(idle).collect()
    }
}
