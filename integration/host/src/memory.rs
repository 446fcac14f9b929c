//! Reading and writing the module's linear memory from inside a hostcall, and returning host-owned
//! bytes the way the ABI requires (allocated with the module's `proxy_on_memory_allocate`/`malloc`,
//! pointer and size written to the two return slots).

use wasmtime::{bail, format_err, Caller, Extern, Memory, Result};

use crate::state::VmState;

/// A hostcall's caller.
pub(crate) type Ctx<'a> = Caller<'a, VmState>;

fn memory(caller: &mut Ctx<'_>) -> Result<Memory> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| format_err!("the module exports no `memory`"))
}

/// Copies `len` bytes at `ptr` out of linear memory; `what` names the argument in the error.
pub(crate) fn read(caller: &mut Ctx<'_>, ptr: u32, len: u32, what: &str) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let mem = memory(caller)?;
    let start = ptr as usize;
    mem.data(&*caller)
        .get(start..start + len as usize)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format_err!("{what}: bytes {start}..+{len} lie outside linear memory"))
}

/// Like [`read`], decoded as (lossy) UTF-8.
pub(crate) fn read_string(caller: &mut Ctx<'_>, ptr: u32, len: u32, what: &str) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len, what)?).into_owned())
}

/// Writes `bytes` at `ptr`.
pub(crate) fn write(caller: &mut Ctx<'_>, ptr: u32, bytes: &[u8]) -> Result<()> {
    let mem = memory(caller)?;
    mem.write(&mut *caller, ptr as usize, bytes).map_err(|_| {
        format_err!(
            "return slot {ptr} (+{} bytes) lies outside linear memory",
            bytes.len()
        )
    })
}

/// Writes a little-endian `u32` (a wasm32 pointer, size, id or status) at `ptr`.
pub(crate) fn write_u32(caller: &mut Ctx<'_>, ptr: u32, value: u32) -> Result<()> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian `u64` at `ptr`.
pub(crate) fn write_u64(caller: &mut Ctx<'_>, ptr: u32, value: u64) -> Result<()> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Returns `bytes` to the module: allocates them in its memory (the SDK frees them), writes the
/// address to `ptr_slot` and the length to `size_slot`. Empty data is returned as a null pointer.
pub(crate) fn return_bytes(
    caller: &mut Ctx<'_>,
    bytes: &[u8],
    ptr_slot: u32,
    size_slot: u32,
) -> Result<()> {
    let address = if bytes.is_empty() {
        0
    } else {
        let alloc = caller
            .get_export("proxy_on_memory_allocate")
            .or_else(|| caller.get_export("malloc"))
            .and_then(Extern::into_func)
            .ok_or_else(|| {
                format_err!("the module exports neither `proxy_on_memory_allocate` nor `malloc`")
            })?
            .typed::<u32, u32>(&*caller)?;
        let address = alloc.call(&mut *caller, bytes.len() as u32)?;
        if address == 0 {
            bail!(
                "the module's allocator returned null for {} bytes",
                bytes.len()
            );
        }
        write(caller, address, bytes)?;
        address
    };
    write_u32(caller, ptr_slot, address)?;
    write_u32(caller, size_slot, bytes.len() as u32)
}
