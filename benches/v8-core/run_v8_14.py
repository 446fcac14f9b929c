"""Runs wasm32-wasip1 builds of warden-v8-core in V8 14 (mini-racer's, 14.4; Envoy 1.40 embeds 14.6).

    python run_v8_14.py [--runs N] [--iterations N] [--only WORKLOAD] A.wasm [B.wasm ...]

The same interleaving and report as run.mjs (a build's figure per workload is its fastest run; later
builds are also given as a ratio of the first), in the V8 generation Envoy runs the filter in rather
than Node 20's V8 11.3. The two differ where it shows: V8 14 inlines wasm calls into wasm callers, and
short `memory.copy`s, a call out of the code in Node's V8, cost little there and in Envoy
(benches/results/v8-14-2026-12-01.md).
Like proxy-wasm's V8 host, it compiles the whole module with TurboFan up front (`--no-liftoff`).

Bare V8 has no WASI, so a few lines of JavaScript below implement the preview-1 calls the module makes
(arguments, stdout, a clock, random bytes, exit). Its only clock is `Date.now()`, whole milliseconds:
the module times each workload over all its iterations, so give it enough (`--iterations`) for a run
of a few hundred milliseconds per workload. A build's first run is slow (V8 compiles and optimizes
while it runs: one run of 100 RS256 verifications measured 1,170 µs each, three runs 157 µs), so keep
`--runs` at 3 or more (5 by default): each build's fastest run is kept.
"""

import argparse
import base64
import sys

from py_mini_racer import MiniRacer, init_mini_racer

WASI_JS = r"""
var builds = [];

function decodeBase64(text) {
  var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var value = new Uint8Array(128);
  for (var i = 0; i < 64; i++) value[alphabet.charCodeAt(i)] = i;
  var padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  var bytes = new Uint8Array(text.length / 4 * 3 - padding);
  for (var i = 0, j = 0; i < text.length; i += 4) {
    var n = value[text.charCodeAt(i)] << 18 | value[text.charCodeAt(i + 1)] << 12 |
      value[text.charCodeAt(i + 2)] << 6 | value[text.charCodeAt(i + 3)];
    if (j < bytes.length) bytes[j++] = n >> 16 & 255;
    if (j < bytes.length) bytes[j++] = n >> 8 & 255;
    if (j < bytes.length) bytes[j++] = n & 255;
  }
  return bytes;
}

function compile(base64) {
  builds.push(new WebAssembly.Module(decodeBase64(base64)));
  return builds.length - 1;
}

// Runs build `index` once with `args` (ASCII strings); returns what it wrote to stdout.
function run(index, args) {
  var memory;
  var out = '';
  var err = '';
  var view = function () { return new DataView(memory.buffer); };
  var argBytes = args.map(function (a) { return a + '\0'; });
  var imports = { wasi_snapshot_preview1: {
    args_sizes_get: function (argc, size) {
      view().setUint32(argc, args.length, true);
      view().setUint32(size, argBytes.join('').length, true);
      return 0;
    },
    args_get: function (argv, buf) {
      var bytes = new Uint8Array(memory.buffer);
      for (var i = 0; i < argBytes.length; i++) {
        view().setUint32(argv + 4 * i, buf, true);
        for (var k = 0; k < argBytes[i].length; k++) bytes[buf++] = argBytes[i].charCodeAt(k);
      }
      return 0;
    },
    environ_sizes_get: function (count, size) {
      view().setUint32(count, 0, true);
      view().setUint32(size, 0, true);
      return 0;
    },
    environ_get: function () { return 0; },
    clock_time_get: function (id, precision, at) {
      view().setBigUint64(at, BigInt(Date.now()) * 1000000n, true);
      return 0;
    },
    random_get: function (at, len) {
      var bytes = new Uint8Array(memory.buffer, at, len);
      for (var i = 0; i < len; i++) bytes[i] = Math.random() * 256 | 0;
      return 0;
    },
    fd_write: function (fd, iovs, count, written) {
      var total = 0;
      var bytes = new Uint8Array(memory.buffer);
      for (var i = 0; i < count; i++) {
        var at = view().getUint32(iovs + 8 * i, true);
        var len = view().getUint32(iovs + 8 * i + 4, true);
        for (var k = 0; k < len; k++) {
          if (fd === 1) out += String.fromCharCode(bytes[at + k]);
          else err += String.fromCharCode(bytes[at + k]);
        }
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    proc_exit: function (code) { throw { exitCode: code }; },
  } };
  var instance = new WebAssembly.Instance(builds[index], imports);
  memory = instance.exports.memory;
  try {
    instance.exports._start();
  } catch (e) {
    if (e === null || typeof e !== 'object' || !('exitCode' in e)) throw e;
    if (e.exitCode !== 0) throw new Error('exited with ' + e.exitCode + ': ' + err);
  }
  return out;
}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--only", default="")
    parser.add_argument("--v8-flag", action="append", default=[], help="one more V8 flag (repeatable)")
    parser.add_argument("builds", nargs="+", metavar="BUILD.wasm")
    args = parser.parse_args()

    init_mini_racer(flags=("--single-threaded", "--no-liftoff", *args.v8_flag))
    ctx = MiniRacer()
    ctx.eval(WASI_JS)
    print(f"==> V8 {ctx.v8_version} (mini-racer), TurboFan only; compiling {len(args.builds)} build(s)",
          file=sys.stderr)
    builds = []
    for path in args.builds:
        with open(path, "rb") as wasm:
            index = ctx.call("compile", base64.b64encode(wasm.read()).decode("ascii"))
        builds.append({"path": path, "index": index, "best": {}})

    for _ in range(args.runs):
        for build in builds:
            out = ctx.call("run", build["index"], ["v8-core", str(args.iterations), args.only])
            for line in out.strip().splitlines():
                workload, us, size = line.split(" ")
                best = build["best"].get(workload)
                if best is None or float(us) < best[0]:
                    build["best"][workload] = (float(us), int(size))

    first = builds[0]
    for workload in first["best"]:
        for build in builds:
            us, size = build["best"][workload]
            rate = f"{size / us / 1.048576:5.0f} MiB/s" if size > 0 else " " * 11
            ratio = "" if build is first else f"  {us / first['best'][workload][0]:.3f}x the first's time"
            print(f"{workload:<10} {us:8.1f} µs  {rate}  {build['path']}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
