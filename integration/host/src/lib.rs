//! A proxy-wasm host emulator built on wasmtime, for testing compiled proxy-wasm filters
//! (`wasm32-wasip1`, ABI 0.2.1 — `proxy-wasm/spec` `abi-versions/v0.2.1`) without Envoy.
//!
//! It is stateful, not an expectations DSL: a [`Host`] holds the compiled module, the plugin/VM
//! configuration, a fake clock, shared data, shared queues and metrics; each [`Vm`] (one per
//! simulated worker) is one instance of the module with its root context; an [`HttpStream`] drives
//! one HTTP context through Envoy's callbacks and exposes what the next filter, the client and the
//! access log would see. WASI imports are served by `wasmtime-wasi`'s preview 1 implementation.
//! An `env` import this host does not implement traps with the hostcall's name when called.
//!
//! ```no_run
//! use proxy_wasm_host::{CompiledModule, Host, HostConfig};
//! # fn main() -> proxy_wasm_host::Result<()> {
//! let module = CompiledModule::from_file("plugin.wasm".as_ref())?;
//! let host = Host::new(&module, HostConfig::default().with_plugin_configuration(b"{}"))?;
//! let mut vm = host.start_vm()?;
//! let mut stream = vm.http_stream()?;
//! stream.request_headers(&[(":method", "GET"), (":path", "/")], true)?;
//! # Ok(()) }
//! ```

mod abi;
mod hostcalls;
mod memory;
mod shared;
mod state;
mod stream;
mod vm;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::{Config, Engine, ExternType, InstancePre, Linker, Module};

pub use abi::{decode_map, encode_map, Action, HeaderMap, LogLevel, MetricKind, Status};
pub use shared::Metric;
pub use state::{
    Direction, HttpCall, HttpCallResponse, LocalResponse, LogEntry, Properties, StreamState,
};
pub use stream::HttpStream;
pub use vm::Vm;
pub use wasmtime::{format_err, Error, Result};

use shared::Shared;
use state::VmState;

/// Context id of the root context (the plugin); HTTP contexts get ids from 2 up.
pub const ROOT_CONTEXT_ID: u32 = 1;

/// Plugin and VM configuration of a [`Host`], as Envoy's `PluginConfig`/`VmConfig` would give them.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Root id (`root_id` in Envoy); also served as property `plugin_root_id`.
    pub root_id: String,
    /// VM id (`vm_id`); shared queues are registered under it. Also property `plugin_vm_id`.
    pub vm_id: String,
    /// Bytes of buffer `VmConfiguration`, size passed to `proxy_on_vm_start`.
    pub vm_configuration: Vec<u8>,
    /// Bytes of buffer `PluginConfiguration`, size passed to `proxy_on_configure`.
    pub plugin_configuration: Vec<u8>,
    /// What `proxy_get_log_level` answers. Every `proxy_log` is recorded whatever the level.
    pub log_level: LogLevel,
    /// Properties every context can read (`proxy_get_property`), e.g. `["plugin_name"]`.
    pub properties: Properties,
    /// Cluster names `proxy_http_call` accepts (others: `BadArgument`, as Envoy); `None` accepts any.
    pub clusters: Option<BTreeSet<String>>,
    /// Initial value of the fake clock.
    pub start_time: SystemTime,
    /// The VM's WASI environment (`environ_get`), as Envoy's `vm_config.environment_variables`.
    pub environment: Vec<(String, String)>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            root_id: String::new(),
            vm_id: String::new(),
            vm_configuration: Vec::new(),
            plugin_configuration: Vec::new(),
            log_level: LogLevel::Trace,
            properties: Properties::new(),
            clusters: None,
            start_time: SystemTime::now(),
            environment: Vec::new(),
        }
    }
}

impl HostConfig {
    /// Sets the root id (and property `plugin_root_id`, and `plugin_name`).
    pub fn with_root_id(mut self, root_id: &str) -> Self {
        self.root_id = root_id.to_string();
        self.with_property(&["plugin_root_id"], root_id.as_bytes())
            .with_property(&["plugin_name"], root_id.as_bytes())
    }

    /// Sets the plugin configuration bytes.
    pub fn with_plugin_configuration(mut self, bytes: &[u8]) -> Self {
        self.plugin_configuration = bytes.to_vec();
        self
    }

    /// Sets the VM configuration bytes.
    pub fn with_vm_configuration(mut self, bytes: &[u8]) -> Self {
        self.vm_configuration = bytes.to_vec();
        self
    }

    /// Adds a host-wide property (path parts, value bytes).
    pub fn with_property(mut self, path: &[&str], value: &[u8]) -> Self {
        self.properties
            .insert(path.iter().map(|p| p.to_string()).collect(), value.to_vec());
        self
    }

    /// Restricts `proxy_http_call` to these cluster names.
    pub fn with_clusters(mut self, clusters: &[&str]) -> Self {
        self.clusters = Some(clusters.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Adds `name=value` to the VM's environment (Envoy: `vm_config.environment_variables`).
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the initial fake-clock time.
    pub fn with_start_time(mut self, time: SystemTime) -> Self {
        self.start_time = time;
        self
    }
}

/// A module compiled once (`wasmtime::Module`) and shareable, cheaply cloned, across hosts and VMs.
#[derive(Clone)]
pub struct CompiledModule {
    engine: Engine,
    module: Module,
}

impl CompiledModule {
    /// Compiles a wasm binary. Errors: invalid wasm, or no `proxy_abi_version_0_2_1` export.
    ///
    /// With the environment variable `WASMTIME_PERFMAP=1`, wasmtime writes `/tmp/perf-<pid>.map`
    /// so that `perf record` / `perf report` name the JIT-compiled wasm functions (build the `.wasm`
    /// without `strip` to keep its name section).
    ///
    /// With `WASMTIME_FUEL=1`, every VM meters the wasm it runs in fuel (about one unit per wasm
    /// operator; [`Vm::fuel_consumed`]): a cost that, unlike time, is the same on every run and
    /// machine, for comparing two builds of a filter. Metering slows the code down.
    pub fn new(wasm: &[u8]) -> Result<Self> {
        let mut config = Config::new();
        if env_flag("WASMTIME_PERFMAP") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        config.consume_fuel(env_flag(FUEL_VARIABLE));
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, wasm)?;
        if module.get_export("proxy_abi_version_0_2_1").is_none() {
            return Err(format_err!(
                "the module does not export `proxy_abi_version_0_2_1` (proxy-wasm ABI 0.2.1)"
            ));
        }
        Ok(CompiledModule { engine, module })
    }

    /// Reads and compiles `path`; the error names the path.
    pub fn from_file(path: &Path) -> Result<Self> {
        let wasm =
            std::fs::read(path).map_err(|e| format_err!("cannot read {}: {e}", path.display()))?;
        Self::new(&wasm).map_err(|e| format_err!("{}: {e}", path.display()))
    }
}

/// The environment variable that turns fuel metering on ([`CompiledModule::new`]).
const FUEL_VARIABLE: &str = "WASMTIME_FUEL";

/// Whether environment variable `name` is `1`.
fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

/// One emulated proxy: configuration, fake clock, shared data, shared queues and metrics, and any
/// number of [`Vm`]s (workers) instantiated from one [`CompiledModule`].
pub struct Host {
    pre: InstancePre<VmState>,
    config: Arc<HostConfig>,
    shared: Arc<Mutex<Shared>>,
}

impl Host {
    /// Links `module` against the proxy-wasm hostcalls and WASI preview 1. Imports this host does not
    /// implement are linked to a function that traps naming the import when called.
    pub fn new(module: &CompiledModule, config: HostConfig) -> Result<Self> {
        let mut linker: Linker<VmState> = Linker::new(&module.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut VmState| &mut state.wasi)?;
        let implemented = hostcalls::add_to_linker(&mut linker)?;
        for import in module.module.imports() {
            let (from, name) = (import.module(), import.name());
            if from == "wasi_snapshot_preview1" || (from == "env" && implemented.contains(name)) {
                continue;
            }
            let ExternType::Func(ty) = import.ty() else {
                return Err(format_err!("import {from}.{name} is not a function; proxy-wasm-host only provides functions"));
            };
            let label = format!("{from}.{name}");
            linker.func_new(from, name, ty, move |_, _, _| {
                Err(format_err!(
                    "hostcall `{label}` is not implemented by proxy-wasm-host"
                ))
            })?;
        }
        let start = config
            .start_time
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos() as u64;
        Ok(Host {
            pre: linker.instantiate_pre(&module.module)?,
            config: Arc::new(config),
            shared: Arc::new(Mutex::new(Shared::new(start))),
        })
    }

    fn shared(&self) -> Result<MutexGuard<'_, Shared>> {
        self.shared
            .lock()
            .map_err(|_| format_err!("host shared state poisoned by an earlier panic"))
    }

    /// Instantiates the module as a new VM and creates its root context (`_initialize`, then
    /// `proxy_on_context_create(1, 0)`); `on_vm_start`/`on_configure` are left to the caller.
    pub fn create_vm(&self) -> Result<Vm> {
        let index = {
            let mut shared = self.shared()?;
            shared.next_vm_index += 1;
            shared.next_vm_index - 1
        };
        Vm::instantiate(
            &self.pre,
            Arc::clone(&self.config),
            Arc::clone(&self.shared),
            index,
        )
    }

    /// [`Host::create_vm`], then `proxy_on_vm_start` and `proxy_on_configure`; an error (with the
    /// module's logs) if either returns false.
    pub fn start_vm(&self) -> Result<Vm> {
        let mut vm = self.create_vm()?;
        if !vm.on_vm_start()? {
            return Err(format_err!(
                "proxy_on_vm_start returned false; logs: {:?}",
                vm.logs()
            ));
        }
        if !vm.on_configure()? {
            return Err(format_err!(
                "proxy_on_configure returned false; logs: {:?}",
                vm.logs()
            ));
        }
        Ok(vm)
    }

    /// The configuration this host was built with.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Current fake-clock time (what `proxy_get_current_time_nanoseconds` answers).
    pub fn now(&self) -> Result<SystemTime> {
        Ok(UNIX_EPOCH + Duration::from_nanos(self.shared()?.clock_nanos))
    }

    /// Moves the fake clock forward. Ticks and callout timeouts fire when a VM runs
    /// [`Vm::run_timers`] (or [`Vm::advance`], which does both).
    pub fn advance_clock(&self, by: Duration) -> Result<()> {
        self.shared()?.clock_nanos += by.as_nanos() as u64;
        Ok(())
    }

    /// A metric by name (as passed to `proxy_define_metric`).
    pub fn metric(&self, name: &str) -> Result<Option<Metric>> {
        Ok(self
            .shared()?
            .metrics
            .iter()
            .find(|m| m.name == name)
            .cloned())
    }

    /// Every defined metric.
    pub fn metrics(&self) -> Result<Vec<Metric>> {
        Ok(self.shared()?.metrics.clone())
    }

    /// Shared data `key`: value and CAS version.
    pub fn shared_data(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>> {
        Ok(self.shared()?.data.get(key).cloned())
    }

    /// Writes shared data as another process would (`cas` 0 = unconditional); returns the status.
    pub fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<Status> {
        Ok(self.shared()?.set_data(key, value.to_vec(), cas))
    }

    /// Items waiting in shared queue `name` of VM id `vm_id`, oldest first; `None` if not registered.
    pub fn queue_items(&self, vm_id: &str, name: &str) -> Result<Option<Vec<Vec<u8>>>> {
        let shared = self.shared()?;
        Ok(shared
            .queues
            .iter()
            .find(|q| q.vm_id == vm_id && q.name == name)
            .map(|q| q.items.iter().cloned().collect()))
    }
}
