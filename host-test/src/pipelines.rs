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

/// The message and metadata a Redpanda Connect `wasm` processor call works on.
#[derive(Default)]
pub struct Message {
    pub content: Vec<u8>,
    pub meta: HashMap<String, String>,
}

struct RedpandaState {
    message: Message,
    clock_ns: u64,
}

/// Redpanda Connect's `wasm` processor as wazero runs it: the `benthos_wasm` functions and WASI's
/// clock, the module's `allocate` for what the host hands in and `deallocate` for what it takes.
pub struct RedpandaProcessor {
    store: Store<RedpandaState>,
    instance: Instance,
    last_instructions: Option<u64>,
}

fn guest_allocate(caller: &mut Caller<'_, RedpandaState>, bytes: &[u8]) -> wasmtime::Result<u64> {
    let allocate = caller
        .get_export("allocate")
        .and_then(|e| e.into_func())
        .ok_or_else(|| wasmtime::Error::msg("the module exports no allocate"))?
        .typed::<u32, u32>(&caller)?;
    let ptr = allocate.call(&mut *caller, bytes.len() as u32)?;
    let memory = exported_memory(caller)?;
    memory.write(&mut *caller, ptr as usize, bytes)?;
    Ok((u64::from(ptr) << 32) | bytes.len() as u64)
}

fn guest_read_and_free(
    caller: &mut Caller<'_, RedpandaState>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = exported_memory(caller)?;
    let mut bytes = vec![0; len as usize];
    memory.read(&*caller, ptr as usize, &mut bytes)?;
    let deallocate = caller
        .get_export("deallocate")
        .and_then(|e| e.into_func())
        .ok_or_else(|| wasmtime::Error::msg("the module exports no deallocate"))?
        .typed::<(u32, u32), ()>(&caller)?;
    deallocate.call(&mut *caller, (ptr, len))?;
    Ok(bytes)
}

fn exported_memory(caller: &mut Caller<'_, RedpandaState>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))
}

fn read_key(
    caller: &mut Caller<'_, RedpandaState>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<String> {
    let memory = exported_memory(caller)?;
    let mut key = vec![0; len as usize];
    memory.read(&*caller, ptr as usize, &mut key)?;
    Ok(String::from_utf8_lossy(&key).into_owned())
}

impl RedpandaProcessor {
    pub fn load(path: &Path) -> Result<RedpandaProcessor> {
        RedpandaProcessor::load_in(&Engine::default(), path)
    }

    /// [`RedpandaProcessor::load`] in `engine` (a [`counting_engine`] counts each call, host
    /// functions' calls back into the module included).
    pub fn load_in(engine: &Engine, path: &Path) -> Result<RedpandaProcessor> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = Module::new(engine, bytes)?;
        let mut linker = Linker::<RedpandaState>::new(engine);
        linker.func_wrap(
            "benthos_wasm",
            "v0_msg_as_bytes",
            |mut caller: Caller<'_, RedpandaState>| {
                let content = caller.data().message.content.clone();
                guest_allocate(&mut caller, &content)
            },
        )?;
        linker.func_wrap(
            "benthos_wasm",
            "v0_msg_set_bytes",
            |mut caller: Caller<'_, RedpandaState>, ptr: u32, len: u32| {
                caller.data_mut().message.content = guest_read_and_free(&mut caller, ptr, len)?;
                Ok(())
            },
        )?;
        linker.func_wrap(
            "benthos_wasm",
            "v0_msg_get_meta",
            |mut caller: Caller<'_, RedpandaState>, ptr: u32, len: u32| {
                let key = read_key(&mut caller, ptr, len)?;
                let value = caller.data().message.meta.get(&key).cloned().unwrap_or_default();
                guest_allocate(&mut caller, value.as_bytes())
            },
        )?;
        linker.func_wrap(
            "benthos_wasm",
            "v0_msg_set_meta",
            |mut caller: Caller<'_, RedpandaState>, kptr: u32, klen: u32, vptr: u32, vlen: u32| {
                let key = read_key(&mut caller, kptr, klen)?;
                let value = read_key(&mut caller, vptr, vlen)?;
                caller.data_mut().message.meta.insert(key, value);
                Ok(())
            },
        )?;
        linker.func_wrap(
            "wasi_snapshot_preview1",
            "clock_time_get",
            |mut caller: Caller<'_, RedpandaState>, _clock: u32, _precision: u64, out: u32| {
                let now = caller.data().clock_ns.to_le_bytes();
                exported_memory(&mut caller)?.write(&mut caller, out as usize, &now)?;
                Ok(0u32)
            },
        )?;
        let state = RedpandaState { message: Message::default(), clock_ns: 0 };
        let mut store = Store::new(engine, state);
        store.set_fuel(CALL_FUEL).ok();
        let instance = linker.instantiate(&mut store, &module)?;
        Ok(RedpandaProcessor { store, instance, last_instructions: None })
    }

    /// One message through `process`, with the wall clock the module would read set to `clock_ns`.
    pub fn process(&mut self, message: Message, clock_ns: u64) -> Result<Message> {
        *self.store.data_mut() = RedpandaState { message, clock_ns };
        let process = self.instance.get_typed_func::<(), ()>(&mut self.store, "process")?;
        let (result, used) = counted(&mut self.store, |store| process.call(store, ()));
        self.last_instructions = used;
        result?;
        Ok(std::mem::take(&mut self.store.data_mut().message))
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
