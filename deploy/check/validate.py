"""Validates Warden's deployment manifests (deploy/**/*.yaml) against the schemas of the real APIs.

Run it as `deploy/.venv/bin/python deploy/check/validate.py` from the repository root (`just deploy-check`
does); it prints one line per document and exits 1 when any document is refused.

Which schema judges which document (versions pinned in deploy/check/requirements.txt):
- Kubernetes core objects (v1, apps/v1, networking.k8s.io/v1, ...): the Kubernetes OpenAPI schemas of
  KUBERNETES_VERSION shipped by PyPI `kubernetes-validate`, in their strict form (unknown fields refused).
- Istio `WasmPlugin`, `EnvoyFilter`: the models PyPI `cloudcoil-models-istio` generates from Istio's CRDs
  (types, enums, required fields), plus an unknown-field check (a field the model does not know is
  refused, as `kubectl apply` does with server-side strict field validation).
- Envoy Gateway `EnvoyExtensionPolicy`, `EnvoyPatchPolicy`: the CRDs' openAPIV3Schema of Envoy Gateway
  v1.9.0, vendored in deploy/check/schemas/ (no registry package ships them), made strict the same way
  (objects with `properties` refuse other members unless `x-kubernetes-preserve-unknown-fields`).
  The CRDs' CEL rules (`x-kubernetes-validations`) are not evaluated.
- Any other apiVersion/kind is refused: a document nothing can check is an error, not a pass.

Then the plugin configurations embedded in the manifests must equal the policy files they come from
(PLUGIN_CONFIG_SOURCES), so a manifest cannot drift from the tested policy.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema
import kubernetes_validate
import pydantic
import yaml
from cloudcoil.models.istio.extensions import v1alpha1 as istio_extensions
from cloudcoil.models.istio.networking import v1alpha3 as istio_networking

#: Kubernetes version whose schemas judge core objects.
KUBERNETES_VERSION = "1.33.0"

#: Where the vendored Envoy Gateway CRD schemas live.
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

#: Istio kinds and the cloudcoil model that validates each, by (apiVersion, kind).
ISTIO_MODELS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("extensions.istio.io/v1alpha1", "WasmPlugin"): istio_extensions.WasmPlugin,
    ("networking.istio.io/v1alpha3", "EnvoyFilter"): istio_networking.EnvoyFilter,
}

#: Envoy Gateway kinds and their vendored CRD schema file, by (apiVersion, kind).
ENVOY_GATEWAY_SCHEMAS: dict[tuple[str, str], str] = {
    ("gateway.envoyproxy.io/v1alpha1", "EnvoyExtensionPolicy"): "envoyextensionpolicies.v1.9.0.json",
    ("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy"): "envoypatchpolicies.v1.9.0.json",
}


def _envoy_filter_config(doc: dict) -> Any:
    """The plugin configuration of deploy/istio/envoyfilter.yaml: the ECDS Wasm config's StringValue."""
    for patch in doc["spec"]["configPatches"]:
        if patch["applyTo"] == "EXTENSION_CONFIG":
            value = patch["patch"]["value"]["typed_config"]["value"]["config"]["configuration"]["value"]
            return json.loads(value)
    raise KeyError("no EXTENSION_CONFIG patch")


def _configmap_config(doc: dict) -> Any:
    return json.loads(doc["data"]["config.json"])


#: (manifest, kind, how to read its plugin configuration, the policy file it must equal).
PLUGIN_CONFIG_SOURCES: list[tuple[str, str, Callable[[dict], Any], str]] = [
    ("deploy/istio/wasmplugin.yaml", "WasmPlugin", lambda d: d["spec"]["pluginConfig"], "policies/demo.json"),
    ("deploy/istio/envoyfilter.yaml", "EnvoyFilter", _envoy_filter_config, "policies/demo.json"),
    (
        "deploy/envoy-gateway/envoyextensionpolicy.yaml",
        "EnvoyExtensionPolicy",
        lambda d: d["spec"]["wasm"][0]["config"],
        "policies/demo.json",
    ),
    ("deploy/kubernetes/configmap.yaml", "ConfigMap", _configmap_config, "policies/demo-approvals.json"),
]


def load_documents(path: Path) -> list[dict]:
    """The YAML documents of `path` (empty documents skipped)."""
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def unknown_fields(given: Any, known: Any, where: str = "") -> Iterator[str]:
    """JSON paths of members of `given` that `known` (the model's dump of it) lacks, recursively."""
    if isinstance(given, dict) and isinstance(known, dict):
        for key, value in given.items():
            path = f"{where}.{key}"
            if key not in known:
                yield path
            else:
                yield from unknown_fields(value, known[key], path)
    elif isinstance(given, list) and isinstance(known, list):
        for i, (g, k) in enumerate(zip(given, known)):
            yield from unknown_fields(g, k, f"{where}[{i}]")


def _validate_istio(doc: dict, model: type[pydantic.BaseModel]) -> list[str]:
    try:
        parsed = model.model_validate(doc)
    except pydantic.ValidationError as e:
        return [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(include_url=False)
        ]
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{path[1:]}: unknown field" for path in unknown_fields(doc, dumped)]


def strict_schema(schema: Any) -> Any:
    """A copy of an OpenAPI v3 (CRD) schema where every object with `properties` refuses other members,
    except where the CRD says `x-kubernetes-preserve-unknown-fields: true`."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _envoy_gateway_validator(file_name: str, version: str) -> jsonschema.protocols.Validator:
    crd = json.loads((SCHEMA_DIR / file_name).read_text(encoding="utf-8"))
    schema = strict_schema(crd["versions"][version])
    # metadata is `type: object` without properties in a CRD; the API server checks it as ObjectMeta.
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    return jsonschema.Draft7Validator(schema)


def _validate_envoy_gateway(doc: dict, file_name: str) -> list[str]:
    version = doc["apiVersion"].split("/", 1)[1]
    validator = _envoy_gateway_validator(file_name, version)
    return [
        f"{e.json_path[2:] or '(document)'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: e.json_path)
    ]


def _validate_kubernetes(doc: dict) -> list[str]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(str(p) for p in e.path) or '(document)'}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {doc.get('apiVersion')} {doc.get('kind')} (Kubernetes {KUBERNETES_VERSION})"]
    return []


def validate_document(doc: Any) -> list[str]:
    """Why `doc` (one parsed manifest) is refused; empty when it is valid."""
    if not isinstance(doc, dict) or not isinstance(doc.get("apiVersion"), str) or not isinstance(
        doc.get("kind"), str
    ):
        return ["not a Kubernetes object (apiVersion and kind are required strings)"]
    key = (doc["apiVersion"], doc["kind"])
    if key in ISTIO_MODELS:
        extra = sorted(set(doc) - {"apiVersion", "kind", "metadata", "spec"})
        return [f"{k}: unknown field" for k in extra] + _validate_istio(doc, ISTIO_MODELS[key])
    if key in ENVOY_GATEWAY_SCHEMAS:
        return _validate_envoy_gateway(doc, ENVOY_GATEWAY_SCHEMAS[key])
    if "." not in doc["apiVersion"].split("/")[0] or doc["apiVersion"].split("/")[0].endswith(".k8s.io"):
        return _validate_kubernetes(doc)
    return [f"no schema known for {doc['apiVersion']} {doc['kind']}"]


def check_plugin_config(manifest: str, docs: list[dict], kind: str, read: Callable[[dict], Any], expected: Any) -> list[str]:
    """Why the one `kind` document among `docs` (of file `manifest`) does not embed `expected`; empty when it does."""
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        return [f"{manifest}: expected one {kind}, found {len(found)}"]
    try:
        actual = read(found[0])
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
        return [f"{manifest}: cannot read the plugin configuration: {e!r}"]
    return [] if actual == expected else [f"{manifest}: the plugin configuration differs from its policy file"]


def check_plugin_configs(root: Path) -> list[str]:
    """Why an embedded plugin configuration differs from the policy file it must equal; empty when none."""
    errors = []
    for manifest, kind, read, policy in PLUGIN_CONFIG_SOURCES:
        expected = json.loads((root / policy).read_text(encoding="utf-8"))
        errors += check_plugin_config(manifest, load_documents(root / manifest), kind, read, expected)
    return errors


def manifests(root: Path) -> list[Path]:
    """Every manifest under deploy/ (the checker's own files excluded)."""
    deploy = root / "deploy"
    return sorted(p for p in deploy.rglob("*.yaml") if (deploy / "check") not in p.parents)


def main(root: Path) -> int:
    """Validates every manifest and the embedded configurations; prints the verdicts; 0 when all pass."""
    failures = 0
    for path in manifests(root):
        for i, doc in enumerate(load_documents(path)):
            name = f"{path.relative_to(root)}#{i} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            errors = validate_document(doc)
            failures += bool(errors)
            print(f"{'REFUSED' if errors else 'ok':7} {name}")
            for e in errors:
                print(f"        {e}")
    for e in check_plugin_configs(root):
        failures += 1
        print(f"REFUSED {e}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
