//! Driving one HTTP context through Envoy's stream callbacks.

use wasmtime::{format_err, Result};

use crate::abi::{Action, HeaderMap};
use crate::state::{Direction, LocalResponse, StreamState};
use crate::vm::Vm;

/// Which half of the stream a callback belongs to.
#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

impl Side {
    fn of(self, state: &mut StreamState) -> &mut Direction {
        match self {
            Side::Request => &mut state.request,
            Side::Response => &mut state.response,
        }
    }

    fn export(self, part: &str) -> String {
        let side = match self {
            Side::Request => "request",
            Side::Response => "response",
        };
        format!("proxy_on_{side}_{part}")
    }
}

/// One HTTP context of a [`Vm`]. Each call delivers one Envoy callback and returns the module's
/// [`Action`]; the state ([`HttpStream::request`], [`HttpStream::response`],
/// [`HttpStream::local_response`], [`HttpStream::property`]) shows what the next filter, the client
/// and the access log see. Body semantics follow Envoy: a body callback sees everything buffered so far
/// plus the new chunk; `Pause` keeps it buffered, `Continue` passes headers (if held) and the buffer on.
/// After a local response, further callbacks are refused with an error (Envoy would not deliver them).
pub struct HttpStream<'vm> {
    vm: &'vm mut Vm,
    id: u32,
}

fn owned(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect()
}

impl<'vm> HttpStream<'vm> {
    pub(crate) fn new(vm: &'vm mut Vm, id: u32) -> Self {
        HttpStream { vm, id }
    }

    /// The context id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// [`Vm::fuel_consumed`] of the VM this stream runs on.
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.vm.fuel_consumed()
    }

    /// [`Vm::host_calls`] of the VM this stream runs on.
    pub fn host_calls(&self) -> Option<u64> {
        self.vm.host_calls()
    }

    /// The VM (e.g. to answer a callout this stream dispatched, or to read logs).
    pub fn vm(&mut self) -> &mut Vm {
        self.vm
    }

    fn state(&mut self) -> Result<&mut StreamState> {
        self.vm.stream_state_mut(self.id)
    }

    /// The stream's whole state.
    pub fn snapshot(&self) -> Option<&StreamState> {
        self.vm.stream_state(self.id)
    }

    /// The request side (headers as modified, body forwarded upstream, buffered part, ...).
    pub fn request(&self) -> Direction {
        self.snapshot()
            .map(|s| s.request.clone())
            .unwrap_or_default()
    }

    /// The response side (headers as modified, body forwarded to the client, ...).
    pub fn response(&self) -> Direction {
        self.snapshot()
            .map(|s| s.response.clone())
            .unwrap_or_default()
    }

    /// The local response the module sent, if any.
    pub fn local_response(&self) -> Option<LocalResponse> {
        self.snapshot().and_then(|s| s.local_response.clone())
    }

    /// A property the module set in this context (`proxy_set_property`, i.e. Envoy filter state).
    pub fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        let key: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        self.snapshot().and_then(|s| s.set.get(&key).cloned())
    }

    /// Provides a property the module can read in this context (e.g. `["request", "path"]`,
    /// `["source", "address"]`).
    pub fn provide_property(&mut self, path: &[&str], value: &[u8]) -> Result<()> {
        let key = path.iter().map(|p| p.to_string()).collect();
        self.state()?.provided.insert(key, value.to_vec());
        Ok(())
    }

    fn deliverable(&mut self, side: Side, part: &str) -> Result<()> {
        let id = self.id;
        let state = self.state()?;
        if let Some(local) = &state.local_response {
            return Err(format_err!(
                "stream {id} was answered locally (status {}); Envoy would not call {}",
                local.status,
                side.export(part)
            ));
        }
        if state.finished {
            return Err(format_err!(
                "stream {id} is finished; Envoy would not call {}",
                side.export(part)
            ));
        }
        if side.of(state).ended {
            return Err(format_err!(
                "stream {id}: {} after the end of stream",
                side.export(part)
            ));
        }
        Ok(())
    }

    /// Applies `action` unless a local response was sent during the callback.
    fn settle(&mut self, side: Side, action: Action) -> Result<Action> {
        let state = self.state()?;
        if state.local_response.is_none() {
            side.of(state).after_callback(action);
        }
        Ok(action)
    }

    fn headers(
        &mut self,
        side: Side,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<Action> {
        self.deliverable(side, "headers")?;
        let direction = side.of(self.state()?);
        direction.headers = owned(headers);
        direction.ended = end_of_stream;
        let (id, count, eos) = (self.id, headers.len() as u32, u32::from(end_of_stream));
        let name = side.export("headers");
        let raw = self
            .vm
            .call::<(u32, u32, u32), u32>(id, &name, (id, count, eos))?;
        let action = Action::from_raw(raw, &name)?;
        self.settle(side, action)
    }

    fn body(&mut self, side: Side, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        self.deliverable(side, "body")?;
        let direction = side.of(self.state()?);
        direction.buffered.extend_from_slice(chunk);
        direction.ended = end_of_stream;
        let size = direction.buffered.len() as u32;
        let (id, eos) = (self.id, u32::from(end_of_stream));
        let name = side.export("body");
        let raw = self
            .vm
            .call::<(u32, u32, u32), u32>(id, &name, (id, size, eos))?;
        let action = Action::from_raw(raw, &name)?;
        self.settle(side, action)
    }

    fn trailers(&mut self, side: Side, trailers: &[(&str, &str)]) -> Result<Action> {
        self.deliverable(side, "trailers")?;
        let direction = side.of(self.state()?);
        direction.trailers = owned(trailers);
        direction.ended = true;
        let (id, count) = (self.id, trailers.len() as u32);
        let name = side.export("trailers");
        let raw = self.vm.call::<(u32, u32), u32>(id, &name, (id, count))?;
        let action = Action::from_raw(raw, &name)?;
        self.settle(side, action)
    }

    /// `proxy_on_request_headers(id, count, end_of_stream)` with `headers` (names lower-cased as
    /// Envoy's codecs deliver them).
    pub fn request_headers(
        &mut self,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<Action> {
        self.headers(Side::Request, headers, end_of_stream)
    }

    /// Appends `chunk` to the request body buffer and calls `proxy_on_request_body(id, buffered size,
    /// end_of_stream)`.
    pub fn request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        self.body(Side::Request, chunk, end_of_stream)
    }

    /// `proxy_on_request_trailers(id, count)`: ends the request; the body buffer stays readable.
    pub fn request_trailers(&mut self, trailers: &[(&str, &str)]) -> Result<Action> {
        self.trailers(Side::Request, trailers)
    }

    /// `proxy_on_response_headers(id, count, end_of_stream)`.
    pub fn response_headers(
        &mut self,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<Action> {
        self.headers(Side::Response, headers, end_of_stream)
    }

    /// Appends `chunk` to the response body buffer and calls `proxy_on_response_body`.
    pub fn response_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        self.body(Side::Response, chunk, end_of_stream)
    }

    /// `proxy_on_response_trailers(id, count)`.
    pub fn response_trailers(&mut self, trailers: &[(&str, &str)]) -> Result<Action> {
        self.trailers(Side::Response, trailers)
    }

    /// Ends the stream as Envoy does: `proxy_on_done`, `proxy_on_log` (access log time: filter state
    /// set here is what `%FILTER_STATE%` prints), `proxy_on_delete`.
    pub fn finish(&mut self) -> Result<()> {
        let id = self.id;
        if self.state()?.finished {
            return Err(format_err!("stream {id} is already finished"));
        }
        self.vm.call::<(u32,), u32>(id, "proxy_on_done", (id,))?;
        self.vm.call::<(u32,), ()>(id, "proxy_on_log", (id,))?;
        self.vm.call::<(u32,), ()>(id, "proxy_on_delete", (id,))?;
        self.state()?.finished = true;
        Ok(())
    }
}
