#!/usr/bin/env python3
"""Groups a `perf` profile of the in-`.wasm` bench into Warden's stages.

Input: `perf report --stdio --no-children --sort dso,sym` of a `wasm_stages` run recorded with
`WASMTIME_PERFMAP=1` against a `.wasm` that kept its name section (see `just profile`). Samples in
wasmtime's JIT code are Warden's own work, attributed to a stage by the function's Rust path;
every other sample (wasmtime, the emulator's hostcalls, libc) is the host's.

Output: a Markdown table, one row per stage, with the share of the JIT samples and of all samples.
"""

import re
import sys

# (stage, pattern on the demangled path); first match wins.
STAGES = [
    ("JWT (cache, verification)", r"warden_core::jwt|jwt_simple|p256|p384|superboring|rsa|num_bigint|crypto_bigint|ed25519|ecdsa|elliptic|primeorder"),
    ("masking (pre-scan, detectors, rewriting)", r"warden_core::mask|iban|bech32|bs58|hmac_sha256"),
    ("SSE framing", r"warden_core::sse"),
    ("JSON-RPC parse and request inspection", r"warden_core::(jsonrpc|request|mirrored_headers|body_encoding)|serde_json::de|serde_json::read|serde_path_to_error"),
    ("policy", r"warden_core::(policy|approval|pinning|mrtr)|glob|regex_lite"),
    ("arguments digest", r"warden_core::digest|sha2"),
    ("audit record rendering", r"warden_core::audit|time::"),
    ("exchange state machine and effects", r"warden_core::(exchange|reply|response|engine|origins)"),
    ("filter adapter and proxy-wasm SDK", r"warden_filter|proxy_wasm"),
    ("JSON serialisation (masked leaves, audit records)", r"serde_json::ser|std::io::.*write_all"),
    ("byte searches (memchr)", r"memchr"),
    ("allocator and memory copies", r"dlmalloc|dlfree|dlrealloc|malloc|realloc|__rdl|__rust_|memcpy|memmove|memset|memcmp|alloc::raw_vec|finish_grow|grow_one|do_reserve"),
    ("formatting and strings", r"core::fmt|alloc::fmt|alloc::string|core::str"),
]


def identifiers(body: str) -> list:
    """The `<length><identifier>` runs of a mangled name, in order."""
    parts, i = [], 0
    while i < len(body):
        j = i
        while j < len(body) and body[j].isdigit():
            j += 1
        if j == i or j >= len(body):
            i += 1
            continue
        length = int(body[i:j])
        parts.append(body[j : j + length])
        i = j + length
    return parts


def demangle(symbol: str) -> str:
    """Rust mangling, legacy (`_ZN3foo3barE` -> `foo::bar`) or v0 (`_RNv…`, identifiers only),
    enough to read the module path."""
    if symbol.startswith("_R"):
        return "::".join(identifiers(re.sub(r"Cs[0-9A-Za-z]+_", "", symbol[2:])))
    match = re.match(r"_ZN((?:\d+[^\d].*?)+)E$", symbol)
    if not match:
        return symbol
    body, parts, i = match.group(1), [], 0
    while i < len(body) and body[i].isdigit():
        j = i
        while body[j].isdigit():
            j += 1
        length = int(body[i:j])
        parts.append(body[j : j + length])
        i = j + length
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    return "::".join(parts).replace("$LT$", "<").replace("$GT$", ">").replace("$u20$", " ").replace("..", "::")


def main() -> None:
    jit, host = {}, 0.0
    line_re = re.compile(r"^\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(\S.*)$")
    for line in sys.stdin:
        match = line_re.match(line)
        if not match:
            continue
        share, dso, symbol = float(match.group(1)), match.group(2), match.group(3).strip()
        if not dso.startswith("[JIT]"):
            host += share
            continue
        path = demangle(symbol)
        stage = next((name for name, pattern in STAGES if re.search(pattern, path)), "other wasm code")
        jit[stage] = jit.get(stage, 0.0) + share
    total_jit = sum(jit.values())
    if total_jit == 0:
        sys.exit("no samples in JIT code: was the run recorded with WASMTIME_PERFMAP=1?")
    print("| stage | share of Warden's wasm time | share of all samples |")
    print("|---|---:|---:|")
    for stage, share in sorted(jit.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {100 * share / total_jit:.1f} % | {share:.1f} % |")
    print(f"| host: wasmtime, emulator hostcalls, libc | — | {host:.1f} % |")


if __name__ == "__main__":
    main()
