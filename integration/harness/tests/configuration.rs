//! Plugin configuration handling through the release .wasm.

use serde_json::Value;
use warden_harness::{demo_configuration, warden_host};

#[test]
fn demo_configuration_is_accepted() {
    let host = warden_host(&demo_configuration().unwrap()).unwrap();
    let mut vm = host.create_vm().unwrap();
    assert!(vm.on_vm_start().unwrap());
    assert!(vm.on_configure().unwrap(), "logs: {:?}", vm.logs());
}

#[test]
fn invalid_configuration_is_refused_with_a_log_naming_the_json_path() {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["policy"]["rules"][1]["action"] = Value::from("explode");
    let host = warden_host(config.to_string().as_bytes()).unwrap();
    let mut vm = host.create_vm().unwrap();
    assert!(vm.on_vm_start().unwrap());
    assert!(
        !vm.on_configure().unwrap(),
        "an invalid action must be refused"
    );
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.message.contains("policy.rules[1].action")),
        "no log names the path: {:?}",
        vm.logs()
    );
}

#[test]
fn configuration_that_is_not_json_is_refused() {
    let host = warden_host(b"upstream: demo").unwrap();
    let mut vm = host.create_vm().unwrap();
    vm.on_vm_start().unwrap();
    assert!(!vm.on_configure().unwrap());
}
