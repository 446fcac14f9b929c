//! State one [`crate::Host`] shares between its VMs (Envoy keeps these process-wide): the fake clock,
//! shared data with CAS versions, shared queues, and metrics.

use std::collections::{HashMap, VecDeque};

use crate::abi::{MetricKind, Status};

/// A shared queue registered by one VM's context.
#[derive(Debug)]
pub(crate) struct Queue {
    pub vm_id: String,
    pub name: String,
    /// Index of the VM that registered it and the context to notify with `proxy_on_queue_ready`.
    pub owner: (usize, u32),
    pub items: VecDeque<Vec<u8>>,
    /// Enqueues not yet announced to the owner with `proxy_on_queue_ready`.
    pub pending_ready: u32,
}

/// A metric as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// The name given to `proxy_define_metric`.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Counter total or gauge value (histograms: the last recorded value).
    pub value: i64,
    /// Every value recorded on a histogram, in order.
    pub samples: Vec<u64>,
}

/// Host-wide state behind a mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Fake clock, nanoseconds since the Unix epoch.
    pub clock_nanos: u64,
    pub data: HashMap<String, (Vec<u8>, u32)>,
    pub next_cas: u32,
    pub queues: Vec<Queue>,
    pub metrics: Vec<Metric>,
    pub next_vm_index: usize,
}

impl Shared {
    pub fn new(clock_nanos: u64) -> Self {
        Shared {
            clock_nanos,
            data: HashMap::new(),
            next_cas: 1,
            queues: Vec::new(),
            metrics: Vec::new(),
            next_vm_index: 0,
        }
    }

    /// `proxy_set_shared_data`: `cas == 0` writes unconditionally; otherwise it must equal the current
    /// version of an existing key (`CasMismatch` if not). Every write gets a new version.
    pub fn set_data(&mut self, key: &str, value: Vec<u8>, cas: u32) -> Status {
        if let Some((_, current)) = self.data.get(key) {
            if cas != 0 && cas != *current {
                return Status::CasMismatch;
            }
        }
        let version = self.next_cas;
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        self.data.insert(key.to_string(), (value, version));
        Status::Ok
    }

    /// `proxy_define_metric`: the same name and kind give the same id (ids start at 1).
    pub fn define_metric(&mut self, name: &str, kind: MetricKind) -> Result<u32, Status> {
        if let Some(index) = self.metrics.iter().position(|m| m.name == name) {
            return if self.metrics[index].kind == kind {
                Ok(index as u32 + 1)
            } else {
                Err(Status::BadArgument)
            };
        }
        self.metrics.push(Metric {
            name: name.to_string(),
            kind,
            value: 0,
            samples: Vec::new(),
        });
        Ok(self.metrics.len() as u32)
    }

    pub fn metric_mut(&mut self, id: u32) -> Option<&mut Metric> {
        self.metrics.get_mut((id as usize).checked_sub(1)?)
    }

    /// `proxy_register_shared_queue`: registering the same `(vm_id, name)` again returns the same id
    /// and moves the notifications to the new owner.
    pub fn register_queue(&mut self, vm_id: &str, name: &str, owner: (usize, u32)) -> u32 {
        if let Some(index) = self
            .queues
            .iter()
            .position(|q| q.vm_id == vm_id && q.name == name)
        {
            self.queues[index].owner = owner;
            return index as u32 + 1;
        }
        self.queues.push(Queue {
            vm_id: vm_id.to_string(),
            name: name.to_string(),
            owner,
            items: VecDeque::new(),
            pending_ready: 0,
        });
        self.queues.len() as u32
    }

    pub fn resolve_queue(&self, vm_id: &str, name: &str) -> Option<u32> {
        self.queues
            .iter()
            .position(|q| q.vm_id == vm_id && q.name == name)
            .map(|i| i as u32 + 1)
    }

    pub fn queue_mut(&mut self, id: u32) -> Option<&mut Queue> {
        self.queues.get_mut((id as usize).checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_cas_is_refused_and_fresh_cas_accepted() {
        let mut shared = Shared::new(0);
        assert_eq!(shared.set_data("k", b"a".to_vec(), 0), Status::Ok);
        let first = shared.data["k"].1;
        assert_eq!(shared.set_data("k", b"b".to_vec(), first), Status::Ok);
        assert_eq!(
            shared.set_data("k", b"c".to_vec(), first),
            Status::CasMismatch
        );
        assert_eq!(shared.data["k"].0, b"b");
    }

    #[test]
    fn redefining_a_metric_returns_its_id_unless_the_kind_differs() {
        let mut shared = Shared::new(0);
        let id = shared.define_metric("m", MetricKind::Counter).unwrap();
        assert_eq!(shared.define_metric("m", MetricKind::Counter), Ok(id));
        assert_eq!(
            shared.define_metric("m", MetricKind::Gauge),
            Err(Status::BadArgument)
        );
    }
}
