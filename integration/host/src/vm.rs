//! One instance of the module (a worker's VM) with its root context, HTTP contexts, timers and
//! HTTP callouts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{
    format_err, CallHook, Instance, InstancePre, Result, Store, WasmParams, WasmResults,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

use crate::shared::Shared;
use crate::state::{HttpCall, HttpCallResponse, LogEntry, Properties, StreamState, VmState};
use crate::stream::HttpStream;
use crate::{HostConfig, ROOT_CONTEXT_ID};

/// Bytes of stdout+stderr kept per VM (a Rust panic message lands there before the trap).
const OUTPUT_CAPACITY: usize = 1 << 20;

/// One VM: an instance of the module with its root context (id [`ROOT_CONTEXT_ID`]).
pub struct Vm {
    store: Store<VmState>,
    instance: Instance,
    output: MemoryOutputPipe,
    next_context: u32,
}

impl Vm {
    pub(crate) fn instantiate(
        pre: &InstancePre<VmState>,
        config: Arc<HostConfig>,
        shared: Arc<Mutex<Shared>>,
        vm_index: usize,
    ) -> Result<Self> {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .envs(&config.environment)
            .build_p1();
        let state = VmState {
            wasi,
            shared,
            config,
            vm_index,
            current_context: ROOT_CONTEXT_ID,
            streams: HashMap::new(),
            root_set: Properties::new(),
            logs: Vec::new(),
            tick_period: None,
            next_tick_nanos: None,
            calls: Vec::new(),
            pending_calls: BTreeMap::new(),
            next_token: 0,
            call_response: None,
            host_calls: 0,
        };
        let mut store = Store::new(pre.module().engine(), state);
        if crate::env_flag(crate::FUEL_VARIABLE) {
            store.set_fuel(u64::MAX)?;
            store.call_hook(|mut state, hook| {
                if matches!(hook, CallHook::CallingHost) {
                    state.data_mut().host_calls += 1;
                }
                Ok(())
            });
        }
        let instance = pre.instantiate(&mut store)?;
        let mut vm = Vm {
            store,
            instance,
            output,
            next_context: ROOT_CONTEXT_ID + 1,
        };
        if vm.instance.get_func(&mut vm.store, "_initialize").is_some() {
            vm.call::<(), ()>(ROOT_CONTEXT_ID, "_initialize", ())?;
        }
        vm.call::<(u32, u32), ()>(
            ROOT_CONTEXT_ID,
            "proxy_on_context_create",
            (ROOT_CONTEXT_ID, 0),
        )?;
        Ok(vm)
    }

    /// Calls export `name` with `context` as the current context. A trap becomes an error naming the
    /// export, with the module's stdout/stderr (e.g. a panic message).
    pub(crate) fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        context: u32,
        name: &str,
        params: P,
    ) -> Result<R> {
        self.store.data_mut().current_context = context;
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| format_err!("module export `{name}`: {e}"))?;
        func.call(&mut self.store, params).map_err(|e| {
            format_err!(
                "{name}(context {context}) failed: {e:?}\nmodule output: {}",
                self.output()
            )
        })
    }

    /// `proxy_on_vm_start(1, vm_configuration_size)`: whether the module accepted the VM configuration.
    pub fn on_vm_start(&mut self) -> Result<bool> {
        let size = self.store.data().config.vm_configuration.len() as u32;
        Ok(self.call::<(u32, u32), u32>(
            ROOT_CONTEXT_ID,
            "proxy_on_vm_start",
            (ROOT_CONTEXT_ID, size),
        )? != 0)
    }

    /// `proxy_on_configure(1, plugin_configuration_size)`: whether the module accepted the plugin
    /// configuration (Envoy refuses the config when false).
    pub fn on_configure(&mut self) -> Result<bool> {
        let size = self.store.data().config.plugin_configuration.len() as u32;
        Ok(self.call::<(u32, u32), u32>(
            ROOT_CONTEXT_ID,
            "proxy_on_configure",
            (ROOT_CONTEXT_ID, size),
        )? != 0)
    }

    /// Creates an HTTP context (`proxy_on_context_create(id, 1)`) and returns its id.
    pub fn open_stream(&mut self) -> Result<u32> {
        let id = self.next_context;
        self.next_context += 1;
        self.store
            .data_mut()
            .streams
            .insert(id, StreamState::default());
        self.call::<(u32, u32), ()>(id, "proxy_on_context_create", (id, ROOT_CONTEXT_ID))?;
        Ok(id)
    }

    /// A new HTTP stream ([`Vm::open_stream`] + [`Vm::stream`]).
    pub fn http_stream(&mut self) -> Result<HttpStream<'_>> {
        let id = self.open_stream()?;
        self.stream(id)
    }

    /// The fuel (about one unit per wasm operator) this VM's wasm has used so far, `None` unless
    /// metering is on (`WASMTIME_FUEL=1`, see [`crate::CompiledModule::new`]).
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.store.get_fuel().ok().map(|left| u64::MAX - left)
    }

    /// The calls this VM's wasm has made into the host (proxy-wasm hostcalls and WASI functions) so
    /// far, `None` unless metering is on (`WASMTIME_FUEL=1`).
    pub fn host_calls(&self) -> Option<u64> {
        self.fuel_consumed().map(|_| self.store.data().host_calls)
    }

    /// A handle on the existing HTTP context `id` (several streams may be interleaved on one VM).
    pub fn stream(&mut self, id: u32) -> Result<HttpStream<'_>> {
        if !self.store.data().streams.contains_key(&id) {
            return Err(format_err!("no HTTP context {id} on this VM"));
        }
        Ok(HttpStream::new(self, id))
    }

    /// State of HTTP context `id`.
    pub fn stream_state(&self, id: u32) -> Option<&StreamState> {
        self.store.data().streams.get(&id)
    }

    pub(crate) fn stream_state_mut(&mut self, id: u32) -> Result<&mut StreamState> {
        self.store
            .data_mut()
            .streams
            .get_mut(&id)
            .ok_or_else(|| format_err!("no HTTP context {id} on this VM"))
    }

    /// Forgets the host-side state of HTTP context `id` (after [`HttpStream::finish`]), returning it.
    pub fn drop_stream(&mut self, id: u32) -> Option<StreamState> {
        self.store.data_mut().streams.remove(&id)
    }

    /// Every `proxy_log` call so far, in order.
    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    /// Returns and clears the log.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// What the module wrote to stdout/stderr through WASI (lossy UTF-8).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.contents()).into_owned()
    }

    /// Properties the module set in the root context.
    pub fn root_properties(&self) -> &Properties {
        &self.store.data().root_set
    }

    /// Every `proxy_http_call` this VM made, in order (answered or not).
    pub fn http_calls(&self) -> &[HttpCall] {
        &self.store.data().calls
    }

    /// Callouts not yet answered, by token order.
    pub fn pending_http_calls(&self) -> Vec<&HttpCall> {
        self.store.data().pending_calls.values().collect()
    }

    /// Answers callout `token`: `proxy_on_http_call_response(context, token, headers, body size,
    /// trailers)` with the response readable through the callout buffers/maps during the callback.
    pub fn respond_http_call(&mut self, token: u32, response: HttpCallResponse) -> Result<()> {
        let call = self
            .store
            .data_mut()
            .pending_calls
            .remove(&token)
            .ok_or_else(|| format_err!("no pending proxy_http_call with token {token}"))?;
        let counts = (
            response.headers.len() as u32,
            response.body.len() as u32,
            response.trailers.len() as u32,
        );
        self.store.data_mut().call_response = Some(response);
        let result = self.call::<(u32, u32, u32, u32, u32), ()>(
            call.context_id,
            "proxy_on_http_call_response",
            (call.context_id, token, counts.0, counts.1, counts.2),
        );
        self.store.data_mut().call_response = None;
        result
    }

    /// Fails callout `token` as a timeout or reset does in Envoy: a response with 0 headers, no body.
    pub fn fail_http_call(&mut self, token: u32) -> Result<()> {
        self.respond_http_call(token, HttpCallResponse::default())
    }

    /// The tick period the module set with `proxy_set_tick_period_milliseconds`.
    pub fn tick_period(&self) -> Option<Duration> {
        self.store.data().tick_period
    }

    /// Advances the host's fake clock by `by`, firing this VM's ticks and callout timeouts in time
    /// order, each with the clock set to its due time.
    pub fn advance(&mut self, by: Duration) -> Result<()> {
        let target = self.store.data().shared()?.clock_nanos + by.as_nanos() as u64;
        self.fire_due(target)?;
        self.store.data().shared()?.clock_nanos = target;
        Ok(())
    }

    /// Fires this VM's ticks and callout timeouts due at the current clock time (after another VM or
    /// [`crate::Host::advance_clock`] moved the clock).
    pub fn run_timers(&mut self) -> Result<()> {
        let now = self.store.data().shared()?.clock_nanos;
        self.fire_due(now)
    }

    fn fire_due(&mut self, until: u64) -> Result<()> {
        loop {
            let state = self.store.data();
            let timeout = state
                .pending_calls
                .values()
                .min_by_key(|c| c.deadline_nanos)
                .map(|c| (c.deadline_nanos, c.token));
            let tick = state.next_tick_nanos;
            let period = state.tick_period.unwrap_or(Duration::ZERO).as_nanos() as u64;
            match (timeout, tick) {
                (Some((due, token)), _) if due <= until && tick.is_none_or(|t| due <= t) => {
                    self.set_clock_forward(due)?;
                    self.fail_http_call(token)?;
                }
                (_, Some(due)) if due <= until => {
                    self.set_clock_forward(due)?;
                    self.store.data_mut().next_tick_nanos = Some(due + period.max(1));
                    self.call::<(u32,), ()>(ROOT_CONTEXT_ID, "proxy_on_tick", (ROOT_CONTEXT_ID,))?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn set_clock_forward(&mut self, to: u64) -> Result<()> {
        let shared = &mut self.store.data().shared()?;
        shared.clock_nanos = shared.clock_nanos.max(to);
        Ok(())
    }

    /// Delivers `proxy_on_queue_ready` for every enqueue since the last delivery on queues this VM
    /// registered (Envoy posts one per enqueue to the owner's thread). Returns how many were delivered.
    pub fn deliver_queue_ready(&mut self) -> Result<u32> {
        let due: Vec<(u32, u32, u32)> = {
            let vm_index = self.store.data().vm_index;
            let mut shared = self.store.data().shared()?;
            shared
                .queues
                .iter_mut()
                .enumerate()
                .filter(|(_, q)| q.owner.0 == vm_index && q.pending_ready > 0)
                .map(|(i, q)| {
                    (
                        i as u32 + 1,
                        q.owner.1,
                        std::mem::take(&mut q.pending_ready),
                    )
                })
                .collect()
        };
        let mut delivered = 0;
        for (queue_id, context, count) in due {
            for _ in 0..count {
                self.call::<(u32, u32), ()>(context, "proxy_on_queue_ready", (context, queue_id))?;
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    /// Size of the module's linear memory (`memory` export) in bytes.
    pub fn memory_size(&mut self) -> Result<usize> {
        let memory = self
            .instance
            .get_memory(&mut self.store, "memory")
            .ok_or_else(|| format_err!("the module exports no `memory`"))?;
        Ok(memory.data_size(&self.store))
    }
}
