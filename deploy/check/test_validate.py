"""Tests of deploy/check/validate.py: the committed manifests pass, and broken ones are refused.

Run: deploy/.venv/bin/python -m unittest discover -s deploy/check -v
"""

import copy
import json
import unittest
from pathlib import Path

import validate

ROOT = Path(__file__).resolve().parents[2]


def doc(manifest: str, index: int = 0) -> dict:
    return copy.deepcopy(validate.load_documents(ROOT / manifest)[index])


class CommittedManifests(unittest.TestCase):
    def test_every_committed_manifest_is_valid(self):
        paths = validate.manifests(ROOT)
        self.assertGreaterEqual(len(paths), 8, paths)
        for path in paths:
            for d in validate.load_documents(path):
                with self.subTest(path=str(path), kind=d.get("kind")):
                    self.assertEqual(validate.validate_document(d), [])

    def test_embedded_plugin_configs_equal_their_policy_files(self):
        self.assertEqual(validate.check_plugin_configs(ROOT), [])


class BrokenManifestsAreRefused(unittest.TestCase):
    def assertRefused(self, d, needle):
        errors = validate.validate_document(d)
        self.assertTrue(any(needle in e for e in errors), errors)

    def test_wasmplugin_with_a_misspelt_field_is_refused(self):
        d = doc("deploy/istio/wasmplugin.yaml")
        d["spec"]["failStrategey"] = d["spec"].pop("failStrategy")
        self.assertRefused(d, "spec.failStrategey: unknown field")

    def test_wasmplugin_with_an_unknown_phase_is_refused(self):
        d = doc("deploy/istio/wasmplugin.yaml")
        d["spec"]["phase"] = "AUTHENTICATION"
        self.assertRefused(d, "spec.phase")

    def test_envoyfilter_with_a_misspelt_patch_field_is_refused(self):
        d = doc("deploy/istio/envoyfilter.yaml")
        d["spec"]["configPatches"][1]["patch"]["operaton"] = "INSERT_FIRST"
        self.assertRefused(d, "spec.configPatches[1].patch.operaton: unknown field")

    def test_envoyfilter_with_an_unknown_apply_to_is_refused(self):
        d = doc("deploy/istio/envoyfilter.yaml")
        d["spec"]["configPatches"][0]["applyTo"] = "WASM_PLUGIN"
        self.assertRefused(d, "applyTo")

    def test_extension_policy_with_a_misspelt_field_is_refused(self):
        d = doc("deploy/envoy-gateway/envoyextensionpolicy.yaml")
        d["spec"]["wasm"][0]["failopen"] = False
        self.assertRefused(d, "'failopen' was unexpected")

    def test_extension_policy_config_keeps_unknown_members(self):
        # `config` is x-kubernetes-preserve-unknown-fields: any plugin configuration is allowed there.
        d = doc("deploy/envoy-gateway/envoyextensionpolicy.yaml")
        d["spec"]["wasm"][0]["config"]["anything"] = {"at": "all"}
        self.assertEqual(validate.validate_document(d), [])

    def test_patch_policy_with_an_unknown_operation_is_refused(self):
        d = doc("deploy/envoy-gateway/envoypatchpolicy.yaml")
        d["spec"]["jsonPatches"][0]["operation"]["op"] = "merge"
        self.assertRefused(d, "spec.jsonPatches[0].operation.op")

    def test_deployment_with_a_misspelt_probe_is_refused(self):
        d = doc("deploy/kubernetes/deployment.yaml")
        container = d["spec"]["template"]["spec"]["containers"][0]
        container["readynessProbe"] = container.pop("readinessProbe")
        self.assertRefused(d, "readynessProbe")

    def test_networkpolicy_with_a_wrong_type_is_refused(self):
        d = doc("deploy/kubernetes/networkpolicy.yaml")
        d["spec"]["podSelector"] = "app.kubernetes.io/name=warden-serve"
        self.assertRefused(d, "podSelector")

    def test_unknown_kind_is_refused(self):
        self.assertRefused(
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}}, "no schema known"
        )
        self.assertRefused({"kind": "Service"}, "not a Kubernetes object")

    def test_plugin_config_that_drifted_from_the_policy_is_refused(self):
        for manifest, kind, read, policy in validate.PLUGIN_CONFIG_SOURCES:
            with self.subTest(manifest=manifest):
                expected = json.loads((ROOT / policy).read_text())
                docs = validate.load_documents(ROOT / manifest)
                self.assertEqual(validate.check_plugin_config(manifest, docs, kind, read, expected), [])
                expected["policy"]["default"] = "allow"
                errors = validate.check_plugin_config(manifest, docs, kind, read, expected)
                self.assertEqual(errors, [f"{manifest}: the plugin configuration differs from its policy file"])


if __name__ == "__main__":
    unittest.main()
