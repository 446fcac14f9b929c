//! The `env` imports of proxy-wasm ABI 0.2.1 this host implements. Each returns a `proxy_status_t`
//! (see [`Status`]); malformed memory access traps with a message naming the hostcall.
//! Imports not defined here are linked to a trap naming them (see [`crate::Host`]).

use std::collections::BTreeSet;
use std::time::Duration;

use wasmtime::{Linker, Result};

use crate::abi::{
    buffer, decode_map, decode_path, encode_map, map, stream, HeaderMap, LogLevel, MetricKind,
    Status,
};
use crate::memory::{read, read_string, return_bytes, write_u32, write_u64, Ctx};
use crate::state::{Direction, HttpCall, LocalResponse, LogEntry, VmState};
use crate::ROOT_CONTEXT_ID;

const OK: u32 = Status::Ok as u32;
const NOT_FOUND: u32 = Status::NotFound as u32;
const BAD_ARGUMENT: u32 = Status::BadArgument as u32;

/// Defines every implemented hostcall in `linker`; returns their names.
pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> Result<BTreeSet<&'static str>> {
    let mut names = BTreeSet::new();
    let mut def = |name: &'static str| {
        names.insert(name);
        name
    };
    linker.func_wrap("env", def("proxy_log"), proxy_log)?;
    linker.func_wrap(
        "env",
        def("proxy_get_log_level"),
        |mut c: Ctx<'_>, ret: u32| -> Result<u32> {
            let level = c.data().config.log_level.raw();
            write_u32(&mut c, ret, level)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_get_current_time_nanoseconds"),
        |mut c: Ctx<'_>, ret: u32| -> Result<u32> {
            let now = c.data().shared()?.clock_nanos;
            write_u64(&mut c, ret, now)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_set_tick_period_milliseconds"),
        |mut c: Ctx<'_>, period: u32| -> Result<u32> {
            let now = c.data().shared()?.clock_nanos;
            let state = c.data_mut();
            if period == 0 {
                state.tick_period = None;
                state.next_tick_nanos = None;
            } else {
                let period = Duration::from_millis(u64::from(period));
                state.tick_period = Some(period);
                state.next_tick_nanos = Some(now + period.as_nanos() as u64);
            }
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", def("proxy_get_buffer_bytes"), proxy_get_buffer_bytes)?;
    linker.func_wrap("env", def("proxy_set_buffer_bytes"), proxy_set_buffer_bytes)?;
    linker.func_wrap(
        "env",
        def("proxy_get_header_map_pairs"),
        |mut c: Ctx<'_>, ty: u32, ret_ptr: u32, ret_size: u32| -> Result<u32> {
            let encoded = match with_map(&mut c, ty, |m| encode_map(m))? {
                Ok(encoded) => encoded,
                Err(status) => return Ok(status as u32),
            };
            return_bytes(&mut c, &encoded, ret_ptr, ret_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_set_header_map_pairs"),
        |mut c: Ctx<'_>, ty: u32, ptr: u32, len: u32| -> Result<u32> {
            let pairs = decode_map(&read(&mut c, ptr, len, "proxy_set_header_map_pairs map")?)?;
            let lowered: HeaderMap = pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            status_of(with_map(&mut c, ty, |m| *m = lowered)?)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_get_header_map_value"),
        |mut c: Ctx<'_>, ty: u32, kp: u32, kl: u32, ret_ptr: u32, ret_size: u32| -> Result<u32> {
            let key = read_string(&mut c, kp, kl, "proxy_get_header_map_value key")?;
            let value = match with_map(&mut c, ty, |m| first_value(m, &key))? {
                Ok(Some(value)) => value,
                Ok(None) => return Ok(NOT_FOUND),
                Err(status) => return Ok(status as u32),
            };
            return_bytes(&mut c, value.as_bytes(), ret_ptr, ret_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_add_header_map_value"),
        |mut c: Ctx<'_>, ty: u32, kp: u32, kl: u32, vp: u32, vl: u32| -> Result<u32> {
            let key =
                read_string(&mut c, kp, kl, "proxy_add_header_map_value key")?.to_ascii_lowercase();
            let value = read_string(&mut c, vp, vl, "proxy_add_header_map_value value")?;
            status_of(with_map(&mut c, ty, |m| m.push((key, value)))?)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_replace_header_map_value"),
        |mut c: Ctx<'_>, ty: u32, kp: u32, kl: u32, vp: u32, vl: u32| -> Result<u32> {
            let key = read_string(&mut c, kp, kl, "proxy_replace_header_map_value key")?
                .to_ascii_lowercase();
            let value = read_string(&mut c, vp, vl, "proxy_replace_header_map_value value")?;
            status_of(with_map(&mut c, ty, |m| {
                m.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                m.push((key, value));
            })?)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_remove_header_map_value"),
        |mut c: Ctx<'_>, ty: u32, kp: u32, kl: u32| -> Result<u32> {
            let key = read_string(&mut c, kp, kl, "proxy_remove_header_map_value key")?;
            status_of(with_map(&mut c, ty, |m| {
                m.retain(|(k, _)| !k.eq_ignore_ascii_case(&key))
            })?)
        },
    )?;
    linker.func_wrap("env", def("proxy_get_property"), proxy_get_property)?;
    linker.func_wrap(
        "env",
        def("proxy_set_property"),
        |mut c: Ctx<'_>, pp: u32, pl: u32, vp: u32, vl: u32| -> Result<u32> {
            let path = decode_path(&read(&mut c, pp, pl, "proxy_set_property path")?);
            let value = read(&mut c, vp, vl, "proxy_set_property value")?;
            let state = c.data_mut();
            match state.streams.get_mut(&state.current_context) {
                Some(stream) => stream.set.insert(path, value),
                None => state.root_set.insert(path, value),
            };
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_get_shared_data"),
        |mut c: Ctx<'_>,
         kp: u32,
         kl: u32,
         ret_ptr: u32,
         ret_size: u32,
         ret_cas: u32|
         -> Result<u32> {
            let key = read_string(&mut c, kp, kl, "proxy_get_shared_data key")?;
            let Some((value, cas)) = c.data().shared()?.data.get(&key).cloned() else {
                return Ok(NOT_FOUND);
            };
            return_bytes(&mut c, &value, ret_ptr, ret_size)?;
            write_u32(&mut c, ret_cas, cas)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_set_shared_data"),
        |mut c: Ctx<'_>, kp: u32, kl: u32, vp: u32, vl: u32, cas: u32| -> Result<u32> {
            let key = read_string(&mut c, kp, kl, "proxy_set_shared_data key")?;
            let value = read(&mut c, vp, vl, "proxy_set_shared_data value")?;
            let status = c.data().shared()?.set_data(&key, value, cas);
            Ok(status as u32)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_register_shared_queue"),
        |mut c: Ctx<'_>, np: u32, nl: u32, ret: u32| -> Result<u32> {
            let name = read_string(&mut c, np, nl, "proxy_register_shared_queue name")?;
            let state = c.data();
            let owner = (state.vm_index, state.current_context);
            let id = state
                .shared()?
                .register_queue(&state.config.vm_id, &name, owner);
            write_u32(&mut c, ret, id)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_resolve_shared_queue"),
        |mut c: Ctx<'_>, vp: u32, vl: u32, np: u32, nl: u32, ret: u32| -> Result<u32> {
            let vm_id = read_string(&mut c, vp, vl, "proxy_resolve_shared_queue vm_id")?;
            let name = read_string(&mut c, np, nl, "proxy_resolve_shared_queue name")?;
            let Some(id) = c.data().shared()?.resolve_queue(&vm_id, &name) else {
                return Ok(NOT_FOUND);
            };
            write_u32(&mut c, ret, id)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_enqueue_shared_queue"),
        |mut c: Ctx<'_>, id: u32, vp: u32, vl: u32| -> Result<u32> {
            let value = read(&mut c, vp, vl, "proxy_enqueue_shared_queue value")?;
            let mut shared = c.data().shared()?;
            let Some(queue) = shared.queue_mut(id) else {
                return Ok(NOT_FOUND);
            };
            queue.items.push_back(value);
            queue.pending_ready += 1;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_dequeue_shared_queue"),
        |mut c: Ctx<'_>, id: u32, ret_ptr: u32, ret_size: u32| -> Result<u32> {
            let item = {
                let mut shared = c.data().shared()?;
                let Some(queue) = shared.queue_mut(id) else {
                    return Ok(NOT_FOUND);
                };
                match queue.items.pop_front() {
                    Some(item) => item,
                    None => return Ok(Status::Empty as u32),
                }
            };
            return_bytes(&mut c, &item, ret_ptr, ret_size)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_continue_stream"),
        |mut c: Ctx<'_>, ty: u32| -> Result<u32> {
            Ok(with_direction(&mut c, ty, |d| {
                d.continue_calls += 1;
                d.release();
            }))
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_close_stream"),
        |mut c: Ctx<'_>, ty: u32| -> Result<u32> {
            Ok(with_direction(&mut c, ty, |d| d.reset = true))
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_send_local_response"),
        proxy_send_local_response,
    )?;
    linker.func_wrap("env", def("proxy_http_call"), proxy_http_call)?;
    linker.func_wrap(
        "env",
        def("proxy_define_metric"),
        |mut c: Ctx<'_>, kind: u32, np: u32, nl: u32, ret: u32| -> Result<u32> {
            let name = read_string(&mut c, np, nl, "proxy_define_metric name")?;
            let Some(kind) = MetricKind::from_raw(kind) else {
                return Ok(BAD_ARGUMENT);
            };
            let defined = c.data().shared()?.define_metric(&name, kind);
            match defined {
                Ok(id) => {
                    write_u32(&mut c, ret, id)?;
                    Ok(OK)
                }
                Err(status) => Ok(status as u32),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_increment_metric"),
        |c: Ctx<'_>, id: u32, offset: i64| -> Result<u32> {
            let mut shared = c.data().shared()?;
            let Some(metric) = shared.metric_mut(id) else {
                return Ok(NOT_FOUND);
            };
            match metric.kind {
                MetricKind::Counter if offset < 0 => Ok(BAD_ARGUMENT),
                MetricKind::Histogram => Ok(BAD_ARGUMENT),
                _ => {
                    metric.value += offset;
                    Ok(OK)
                }
            }
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_record_metric"),
        |c: Ctx<'_>, id: u32, value: u64| -> Result<u32> {
            let mut shared = c.data().shared()?;
            let Some(metric) = shared.metric_mut(id) else {
                return Ok(NOT_FOUND);
            };
            if metric.kind == MetricKind::Histogram {
                metric.samples.push(value);
            }
            metric.value = value as i64;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_get_metric"),
        |mut c: Ctx<'_>, id: u32, ret: u32| -> Result<u32> {
            let value = match c.data().shared()?.metric_mut(id) {
                None => return Ok(NOT_FOUND),
                Some(metric) if metric.kind == MetricKind::Histogram => return Ok(BAD_ARGUMENT),
                Some(metric) => metric.value as u64,
            };
            write_u64(&mut c, ret, value)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        def("proxy_set_effective_context"),
        |mut c: Ctx<'_>, context: u32| -> Result<u32> {
            let state = c.data_mut();
            if context != ROOT_CONTEXT_ID && !state.streams.contains_key(&context) {
                return Ok(BAD_ARGUMENT);
            }
            state.current_context = context;
            Ok(OK)
        },
    )?;
    Ok(names)
}

fn proxy_log(mut c: Ctx<'_>, level: u32, ptr: u32, len: u32) -> Result<u32> {
    let Some(level) = LogLevel::from_raw(level) else {
        return Ok(BAD_ARGUMENT);
    };
    let message = read_string(&mut c, ptr, len, "proxy_log message")?;
    let context_id = c.data().current_context;
    c.data_mut().logs.push(LogEntry {
        level,
        message,
        context_id,
    });
    Ok(OK)
}

fn status_of(result: std::result::Result<(), Status>) -> Result<u32> {
    Ok(match result {
        Ok(()) => OK,
        Err(status) => status as u32,
    })
}

fn first_value(map: &HeaderMap, key: &str) -> Option<String> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.clone())
}

/// Runs `f` on the header map `ty` of the current context. `Err(status)` when that map does not exist
/// there (stream maps in the root context, callout maps outside `proxy_on_http_call_response`).
fn with_map<R>(
    c: &mut Ctx<'_>,
    ty: u32,
    f: impl FnOnce(&mut HeaderMap) -> R,
) -> Result<std::result::Result<R, Status>> {
    let state = c.data_mut();
    let target = match ty {
        map::HTTP_REQUEST_HEADERS => state.current_stream().map(|s| &mut s.request.headers),
        map::HTTP_REQUEST_TRAILERS => state.current_stream().map(|s| &mut s.request.trailers),
        map::HTTP_RESPONSE_HEADERS => state.current_stream().map(|s| &mut s.response.headers),
        map::HTTP_RESPONSE_TRAILERS => state.current_stream().map(|s| &mut s.response.trailers),
        map::HTTP_CALL_RESPONSE_HEADERS => state.call_response.as_mut().map(|r| &mut r.headers),
        map::HTTP_CALL_RESPONSE_TRAILERS => state.call_response.as_mut().map(|r| &mut r.trailers),
        4 | 5 => wasmtime::bail!(
            "header map type {ty} (gRPC metadata) is not implemented by proxy-wasm-host"
        ),
        _ => return Ok(Err(Status::BadArgument)),
    };
    Ok(target.map(f).ok_or(Status::BadArgument))
}

/// Runs `f` on the request or response side of the current stream; returns the ABI status.
fn with_direction(c: &mut Ctx<'_>, ty: u32, f: impl FnOnce(&mut Direction)) -> u32 {
    let Some(stream_state) = c.data_mut().current_stream() else {
        return NOT_FOUND;
    };
    match ty {
        stream::HTTP_REQUEST => f(&mut stream_state.request),
        stream::HTTP_RESPONSE => f(&mut stream_state.response),
        _ => return BAD_ARGUMENT,
    }
    OK
}

fn buffer_of(state: &mut VmState, ty: u32) -> std::result::Result<&mut Vec<u8>, Status> {
    match ty {
        buffer::HTTP_REQUEST_BODY => state
            .current_stream()
            .map(|s| &mut s.request.buffered)
            .ok_or(Status::BadArgument),
        buffer::HTTP_RESPONSE_BODY => state
            .current_stream()
            .map(|s| &mut s.response.buffered)
            .ok_or(Status::BadArgument),
        buffer::HTTP_CALL_RESPONSE_BODY => state
            .call_response
            .as_mut()
            .map(|r| &mut r.body)
            .ok_or(Status::NotFound),
        _ => Err(Status::BadArgument),
    }
}

fn proxy_get_buffer_bytes(
    mut c: Ctx<'_>,
    ty: u32,
    start: u32,
    max: u32,
    ret_ptr: u32,
    ret_size: u32,
) -> Result<u32> {
    let state = c.data_mut();
    let bytes = match ty {
        buffer::VM_CONFIGURATION => state.config.vm_configuration.clone(),
        buffer::PLUGIN_CONFIGURATION => state.config.plugin_configuration.clone(),
        _ => match buffer_of(state, ty) {
            Ok(buffer) => buffer.clone(),
            Err(status) => return Ok(status as u32),
        },
    };
    let start = start as usize;
    if start > bytes.len() {
        return Ok(BAD_ARGUMENT);
    }
    let end = start.saturating_add(max as usize).min(bytes.len());
    return_bytes(&mut c, &bytes[start..end], ret_ptr, ret_size)?;
    Ok(OK)
}

/// Envoy's `Buffer::copyFrom` semantics: `start == 0, size == 0` prepends; `start == 0,
/// size >= length` replaces the whole buffer; `start >= length` appends; anything else (a partial
/// replacement) is `BadArgument`, as in Envoy.
fn proxy_set_buffer_bytes(
    mut c: Ctx<'_>,
    ty: u32,
    start: u32,
    size: u32,
    ptr: u32,
    len: u32,
) -> Result<u32> {
    let data = read(&mut c, ptr, len, "proxy_set_buffer_bytes data")?;
    let buffer = match buffer_of(c.data_mut(), ty) {
        Ok(buffer) => buffer,
        Err(status) => return Ok(status as u32),
    };
    let (start, size) = (start as usize, size as usize);
    if start == 0 && size == 0 {
        buffer.splice(0..0, data);
    } else if start == 0 && size >= buffer.len() {
        *buffer = data;
    } else if start >= buffer.len() {
        buffer.extend_from_slice(&data);
    } else {
        return Ok(BAD_ARGUMENT);
    }
    Ok(OK)
}

fn proxy_get_property(
    mut c: Ctx<'_>,
    pp: u32,
    pl: u32,
    ret_ptr: u32,
    ret_size: u32,
) -> Result<u32> {
    let path = decode_path(&read(&mut c, pp, pl, "proxy_get_property path")?);
    let state = c.data();
    let stream_state = state.streams.get(&state.current_context);
    let value = stream_state
        .and_then(|s| s.set.get(&path).or_else(|| s.provided.get(&path)))
        .or_else(|| state.root_set.get(&path))
        .or_else(|| state.config.properties.get(&path))
        .cloned();
    let Some(value) = value else {
        return Ok(NOT_FOUND);
    };
    return_bytes(&mut c, &value, ret_ptr, ret_size)?;
    Ok(OK)
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
fn proxy_send_local_response(
    mut c: Ctx<'_>,
    status: u32,
    dp: u32,
    dl: u32,
    bp: u32,
    bl: u32,
    hp: u32,
    hl: u32,
    grpc_status: i32,
) -> Result<u32> {
    let details = read_string(&mut c, dp, dl, "proxy_send_local_response details")?;
    let body = read(&mut c, bp, bl, "proxy_send_local_response body")?;
    let headers = decode_map(&read(&mut c, hp, hl, "proxy_send_local_response headers")?)?;
    let Some(stream_state) = c.data_mut().current_stream() else {
        return Ok(BAD_ARGUMENT);
    };
    stream_state.local_response = Some(LocalResponse {
        status,
        details,
        headers,
        body,
        grpc_status,
    });
    Ok(OK)
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
fn proxy_http_call(
    mut c: Ctx<'_>,
    up: u32,
    ul: u32,
    hp: u32,
    hl: u32,
    bp: u32,
    bl: u32,
    tp: u32,
    tl: u32,
    timeout_ms: u32,
    ret_token: u32,
) -> Result<u32> {
    let upstream = read_string(&mut c, up, ul, "proxy_http_call upstream")?;
    let headers = decode_map(&read(&mut c, hp, hl, "proxy_http_call headers")?)?;
    let body = read(&mut c, bp, bl, "proxy_http_call body")?;
    let trailers = decode_map(&read(&mut c, tp, tl, "proxy_http_call trailers")?)?;
    let has = |name: &str| headers.iter().any(|(k, _)| k == name);
    let known = c
        .data()
        .config
        .clusters
        .as_ref()
        .is_none_or(|clusters| clusters.contains(&upstream));
    if !known || !has(":method") || !has(":path") || !has(":authority") {
        return Ok(BAD_ARGUMENT);
    }
    let now = c.data().shared()?.clock_nanos;
    let state = c.data_mut();
    state.next_token += 1;
    let timeout = Duration::from_millis(u64::from(timeout_ms));
    let call = HttpCall {
        token: state.next_token,
        context_id: state.current_context,
        upstream,
        headers,
        body,
        trailers,
        timeout,
        deadline_nanos: now + timeout.as_nanos() as u64,
    };
    let token = call.token;
    state.pending_calls.insert(token, call.clone());
    state.calls.push(call);
    write_u32(&mut c, ret_token, token)?;
    Ok(OK)
}
