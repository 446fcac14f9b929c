// Runs wasm32-wasip1 builds of warden-v8-core in Node's V8 (WASI preview 1), interleaved:
//   node run.mjs [--runs N] [--iterations N] [--only WORKLOAD] [--profile] A.wasm [B.wasm ...]
// Each run instantiates every build once, in turn, and reads what it prints (`<workload> <µs> <bytes>`);
// a build's figure per workload is its fastest run, and every later build is also given as a ratio of
// the first one's. With --profile, V8's sampling profiler runs throughout and the functions with the
// most self time are printed (named when the .wasm keeps its name section, as `just bench-v8-core`
// builds it); the profiler slows every build alike, so read its shares, not its times.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WASI } from 'node:wasi';
import { Session } from 'node:inspector/promises';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '200' },
    only: { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
  },
});
if (positionals.length === 0) {
  console.error('usage: node run.mjs [--runs N] [--iterations N] [--only WORKLOAD] [--profile] A.wasm [B.wasm ...]');
  process.exit(2);
}
const builds = await Promise.all(
  positionals.map(async (path) => ({
    path,
    module: await WebAssembly.compile(readFileSync(path)),
    best: new Map(),
  })),
);
const session = new Session();
if (values.profile) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
}
const dir = mkdtempSync(join(tmpdir(), 'v8-core-'));
for (let run = 0; run < Number(values.runs); run++) {
  for (const build of builds) {
    const out = join(dir, 'stdout');
    const fd = openSync(out, 'w');
    const wasi = new WASI({
      version: 'preview1',
      args: ['v8-core', values.iterations, values.only],
      stdout: fd,
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(build.module, wasi.getImportObject());
    const status = wasi.start(instance);
    closeSync(fd);
    if (status !== 0) throw new Error(`${build.path} exited with ${status}`);
    for (const line of readFileSync(out, 'utf8').trim().split('\n')) {
      const [workload, us, bytes] = line.split(' ');
      const previous = build.best.get(workload);
      if (!previous || Number(us) < previous.us) build.best.set(workload, { us: Number(us), bytes: Number(bytes) });
    }
  }
}
rmSync(dir, { recursive: true });
const first = builds[0];
for (const [workload] of first.best) {
  for (const build of builds) {
    const { us, bytes } = build.best.get(workload);
    const rate = bytes > 0 ? `${(bytes / us / 1.048576).toFixed(0).padStart(5)} MiB/s` : ' '.repeat(11);
    const ratio = build === first ? '' : `  ${(us / first.best.get(workload).us).toFixed(3)}x the first's time`;
    console.log(`${workload.padEnd(10)} ${us.toFixed(1).padStart(8)} µs  ${rate}  ${build.path}${ratio}`);
  }
}
// Rust's legacy symbol mangling (`_ZN11warden_core4mask…17h<hash>E`) made readable.
function demangle(name) {
  const parts = [];
  let rest = name.startsWith('_ZN') ? name.slice(3) : null;
  while (rest && /^\d/.test(rest)) {
    const len = Number(rest.match(/^\d+/)[0]);
    const start = String(len).length;
    parts.push(rest.slice(start, start + len));
    rest = rest.slice(start + len);
  }
  if (!rest || rest !== 'E' || parts.length === 0) return name;
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1))) parts.pop();
  const symbols = { $LT$: '<', $GT$: '>', $u20$: ' ', $C$: ',', $RF$: '&', $BP$: '*', $u7b$: '{', $u7d$: '}' };
  return parts
    .map((part) => part.replace(/^_\$/, '$'))
    .join('::')
    .replace(/\$(LT|GT|u20|C|RF|BP|u7b|u7d)\$/g, (m) => symbols[m])
    .replaceAll('..', '::');
}

if (values.profile) {
  const { profile } = await session.post('Profiler.stop');
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const name = demangle(byId.get(id).callFrame.functionName || '(anonymous)');
    self.set(name, (self.get(name) ?? 0) + profile.timeDeltas[i]);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log('\nself time, all builds together:');
  for (const [name, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)} %  ${name.slice(0, 140)}`);
  }
}
