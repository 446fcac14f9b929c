//! What started an MCP task or SSE stream, remembered so that later reads of it are judged against
//! the call that started it (MCP 2025-11-25 tasks and Streamable HTTP resumability).
//!
//! - **Tasks.** A response carrying a task (`result.task.taskId`, the 2025-11-25 `CreateTaskResult`;
//!   or `result.taskId` with `resultType: "task"`, the tasks extension) is remembered as
//!   `taskId →` [`Origin`]: the caller `(iss, sub)` it was answered to and the rule that allowed the
//!   request it answers. A `tasks/get`, `tasks/result`, `tasks/cancel` or `tasks/update` for a task
//!   is forwarded only for that caller, and its response is masked with (at least) that rule's
//!   profile; any other task id — another caller's, one never seen, or one forgotten — is refused
//!   with JSON-RPC error -32602 before it reaches the server (the same answer in each case, so a
//!   caller learns nothing about other callers' tasks).
//! - **Task lists.** The tasks of a `tasks/list` result are those Warden remembers as the
//!   caller's own; every other task (another caller's, one never seen, one forgotten) is removed
//!   before the client sees the list, the rest of the result (`nextCursor`, `_meta`) kept
//!   ([`OriginTracker::filter_task_lists`]).
//! - **Streams.** Every SSE event id (`id:` field) Warden forwards is remembered as `event id →`
//!   [`Origin`] of the exchange that carried it. A GET with `Last-Event-ID` (resumption) whose id is
//!   known is refused (403) for any other caller and masked with the origin's profile for its owner;
//!   an unknown id keeps the strictest profile of the policy (nothing to bind it to).
//!
//! The host keeps the map ([`OriginStore`]; the filter in Envoy shared data, shared by every worker).
//! It is bounded: [`BUCKETS`] buckets of [`BUCKET_ENTRIES`] entries per kind ([`MAX_REMEMBERED`] in
//! all), an id's bucket chosen by the SHA-256 of the id; a new id in a full bucket evicts the oldest
//! entry of that bucket. A forgotten task is refused like another caller's (fail closed: the owner is
//! unknown); a forgotten stream id is masked with the strictest profile.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::audit::MessageAudit;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::mask::DetectorSet;
use crate::shared_json::SharedJson;

/// Buckets per kind of id.
pub const BUCKETS: usize = 1024;

/// Entries per bucket; a new id in a full bucket evicts the bucket's oldest entry.
pub const BUCKET_ENTRIES: usize = 4;

/// Most ids of one kind remembered at once ([`BUCKETS`] × [`BUCKET_ENTRIES`]).
pub const MAX_REMEMBERED: usize = BUCKETS * BUCKET_ENTRIES;

/// Methods that address one task by `params.taskId` (MCP 2025-11-25 tasks, and `tasks/update` of the
/// tasks extension).
pub const TASK_METHODS: [&str; 4] = ["tasks/get", "tasks/result", "tasks/cancel", "tasks/update"];

/// Who started a task or stream, and under which rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Issuer of the caller it was answered to.
    pub iss: String,
    /// Subject of that caller.
    pub sub: String,
    /// Ids of the rules that allowed the messages of the request that started it (`None`: the
    /// default profile applied, no rule matched). Empty: the originating call is unknown itself (a
    /// GET stream), so the strictest profile applies.
    pub rules: Vec<Option<String>>,
}

impl Origin {
    /// An origin owned by `identity`, started under `rules`.
    pub fn new(identity: &Identity, rules: Vec<Option<String>>) -> Self {
        Self {
            iss: identity.iss.clone(),
            sub: identity.sub.clone(),
            rules,
        }
    }

    /// Whether `identity` is its owner (same `iss` and `sub`).
    pub fn is_owned_by(&self, identity: &Identity) -> bool {
        self.is_owner(&identity.iss, &identity.sub)
    }

    /// Whether `other` has the same owner (same `iss` and `sub`).
    pub fn same_owner(&self, other: &Origin) -> bool {
        self.is_owner(&other.iss, &other.sub)
    }

    fn is_owner(&self, iss: &str, sub: &str) -> bool {
        self.iss == iss && self.sub == sub
    }

    /// The rule to name in audit records: the first rule that allowed the originating request.
    pub fn rule(&self) -> Option<String> {
        self.rules.iter().flatten().next().cloned()
    }
}

/// The two maps of remembered ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginKind {
    /// Task ids (`taskId`).
    Task,
    /// SSE event ids (`id:` fields, echoed by clients in `Last-Event-ID`).
    Stream,
}

impl OriginKind {
    /// Its name in storage keys: `task` or `stream`.
    pub fn name(self) -> &'static str {
        match self {
            OriginKind::Task => "task",
            OriginKind::Stream => "stream",
        }
    }
}

/// The bucket (`0..BUCKETS`) of `id`: the first two bytes of its SHA-256, modulo [`BUCKETS`]. Ids are
/// chosen by the server, so a client cannot aim at another caller's bucket.
pub fn bucket_of(id: &str) -> usize {
    let digest = Sha256::digest(id.as_bytes());
    usize::from(u16::from_be_bytes([digest[0], digest[1]])) % BUCKETS
}

/// One bucket: up to [`BUCKET_ENTRIES`] `(id, origin)` pairs, oldest first. Stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket(pub Vec<(String, Origin)>);

/// An unreadable bucket is empty: its tasks are refused and its streams get the strictest profile.
impl SharedJson for Bucket {}

impl Bucket {
    /// The origin of `id`, if held.
    pub fn get(&self, id: &str) -> Option<&Origin> {
        self.0.iter().find(|(held, _)| held == id).map(|(_, o)| o)
    }

    /// Remembers `id → origin` as the newest entry, evicting the oldest when full. Returns whether
    /// anything changed. An id already held keeps its first origin (the caller it was answered to
    /// first), so a later stream that repeats an id cannot take it over.
    pub fn insert(&mut self, id: &str, origin: &Origin) -> bool {
        if self.get(id).is_some() {
            return false;
        }
        if self.0.len() >= BUCKET_ENTRIES {
            self.0.remove(0);
        }
        self.0.push((id.to_owned(), origin.clone()));
        true
    }
}

/// The host's map of remembered origins (Envoy shared data in the filter).
pub trait OriginStore {
    /// Remembers `id → origin` (see [`Bucket::insert`]).
    fn remember(&self, kind: OriginKind, id: &str, origin: &Origin);
    /// The origin of `id`, `None` when never remembered or evicted.
    fn recall(&self, kind: OriginKind, id: &str) -> Option<Origin>;
}

/// An [`OriginStore`] in this process's memory (native use and tests; the same buckets as the
/// filter's).
#[derive(Debug, Default)]
pub struct MemoryOrigins {
    buckets: RefCell<HashMap<(OriginKind, usize), Bucket>>,
}

impl OriginStore for MemoryOrigins {
    fn remember(&self, kind: OriginKind, id: &str, origin: &Origin) {
        self.buckets
            .borrow_mut()
            .entry((kind, bucket_of(id)))
            .or_default()
            .insert(id, origin);
    }

    fn recall(&self, kind: OriginKind, id: &str) -> Option<Origin> {
        self.buckets
            .borrow()
            .get(&(kind, bucket_of(id)))
            .and_then(|b| b.get(id).cloned())
    }
}

/// The key of SSE event id `event_id` seen in MCP session `session` (`Mcp-Session-Id`; servers may
/// number events per session or per stream, so the same id can recur in another session).
pub fn stream_key(session: Option<&str>, event_id: &str) -> String {
    match session {
        Some(session) => format!("{session}\u{1f}{event_id}"),
        None => event_id.to_owned(),
    }
}

/// Whether a message that addresses a task may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAccess {
    /// The caller created the task: forward, mask the response with the origin's profile too.
    Owner(Origin),
    /// Refused before the server sees it.
    Refused {
        /// The task id as sent (`None`: missing or not a string).
        task_id: Option<String>,
        /// Why, for the audit record (the client gets [`TaskAccess::client_message`]).
        reason: &'static str,
    },
}

/// Why a task read is refused: the task was created by another caller.
pub const OTHER_OWNER: &str = "the task was created by another caller";
/// Why a task read is refused: Warden has no record of the task (never seen, or evicted).
pub const UNKNOWN_TASK: &str =
    "Warden has no record of the task (never created through Warden, or forgotten after newer tasks)";
/// Why a task read is refused: `params.taskId` is missing or not a string.
pub const BAD_TASK_ID: &str = "params.taskId must be a string";

impl TaskAccess {
    /// What `identity` may do with `message` (a request or notification): `None` when it addresses
    /// no task ([`TASK_METHODS`]).
    pub fn of(
        identity: &Identity,
        origins: &dyn OriginStore,
        method: &str,
        params: Option<&Value>,
    ) -> Option<Self> {
        let task_id = match addressed_task(method, params)? {
            Ok(id) => id,
            Err(()) => {
                return Some(TaskAccess::Refused {
                    task_id: None,
                    reason: BAD_TASK_ID,
                })
            }
        };
        Some(match origins.recall(OriginKind::Task, &task_id) {
            Some(origin) if origin.is_owned_by(identity) => TaskAccess::Owner(origin),
            Some(_) => TaskAccess::Refused {
                task_id: Some(task_id),
                reason: OTHER_OWNER,
            },
            None => TaskAccess::Refused {
                task_id: Some(task_id),
                reason: UNKNOWN_TASK,
            },
        })
    }

    /// The JSON-RPC error message the client gets for a refusal: the same whether the task is
    /// another caller's or unknown, so that nobody learns of other callers' tasks.
    pub fn client_message(task_id: Option<&str>) -> String {
        match task_id {
            Some(id) => format!(
                "task \"{id}\" not found: tasks are readable only by the caller that created them"
            ),
            None => BAD_TASK_ID.to_owned(),
        }
    }
}

/// The task id a request of [`TASK_METHODS`] addresses: `Some(Ok(id))`, `Some(Err(()))` when
/// `params.taskId` is missing or not a string, `None` for any other method.
pub fn addressed_task(method: &str, params: Option<&Value>) -> Option<Result<String, ()>> {
    if !TASK_METHODS.contains(&method) {
        return None;
    }
    Some(
        params
            .and_then(|p| p.get("taskId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(()),
    )
}

/// The task a JSON-RPC response message creates: `result.task.taskId` (2025-11-25
/// `CreateTaskResult`), or `result.taskId` of a result with `resultType: "task"` (tasks extension).
/// Returns the response's id (its JSON text) and the task id.
pub fn created_task(message: &Value) -> Option<(String, String)> {
    let result = message.get("result")?;
    let task_id = match result.get("task").and_then(|t| t.get("taskId")) {
        Some(id) => id,
        None if result.get("resultType").and_then(Value::as_str) == Some("task") => {
            result.get("taskId")?
        }
        None => return None,
    };
    Some((message.get("id")?.to_string(), task_id.as_str()?.to_owned()))
}

/// The tasks the server message(s) in `data` (one JSON-RPC message or a batch) create. A cheap byte
/// search skips parsing when no `taskId` member can be present.
pub fn created_tasks(data: &[u8]) -> Vec<(String, String)> {
    if memchr::memmem::find(data, b"taskId").is_none() {
        return Vec::new();
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Array(batch)) => batch.iter().filter_map(created_task).collect(),
        Ok(message) => created_task(&message).into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// The non-empty event ids (`id:` fields) of the complete SSE events in `bytes` (what the SSE
/// rewriter emitted: whole lines), in order. Ids containing NULL are ignored, as clients ignore
/// them (WHATWG HTML, server-sent events, "process the field").
pub fn event_ids(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .split(|b| *b == b'\n' || *b == b'\r')
        .filter_map(|line| {
            let value = match line.strip_prefix(b"id")? {
                [] => return None,
                [b':', b' ', value @ ..] | [b':', value @ ..] => value,
                _ => return None,
            };
            let value = std::str::from_utf8(value).ok()?;
            (!value.is_empty() && !value.contains('\0')).then(|| value.to_owned())
        })
        .collect()
}

/// The method whose results list tasks (MCP 2025-11-25 `ListTasksResult`: `result.tasks`).
const TASKS_LIST: &str = "tasks/list";

/// Which server messages of an exchange answer a `tasks/list` request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TaskListAnswers {
    /// The responses to these requests of a POST (the JSON text of each request id).
    To(Vec<String>),
    /// Any response whose `result.tasks` is an array: on a GET stream the requests are not seen, and
    /// a resumed stream may deliver the answer to a `tasks/list` posted before it was cut.
    AnyListing,
}

/// What one exchange remembers as it forwards the response: the tasks it creates and the SSE event
/// ids it carries, each with its [`Origin`]; and which answers are task lists to filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginTracker {
    /// `Mcp-Session-Id` of the request ([`stream_key`]).
    session: Option<String>,
    /// The exchange's origin: of its SSE event ids, and of a task answering no request of it. Its
    /// `(iss, sub)` is the caller the responses go to.
    origin: Origin,
    /// JSON text of each request id of the body → the rule that allowed it.
    by_request: Vec<(String, Option<String>)>,
    /// The answers whose tasks are filtered to the caller's own.
    task_lists: TaskListAnswers,
}

impl OriginTracker {
    /// The tracker of an exchange whose responses are about `origin` (a GET stream: the stream it
    /// resumes, or an origin without rules).
    /// Every task list it carries is filtered ([`TaskListAnswers::AnyListing`]).
    pub fn new(session: Option<String>, origin: Origin) -> Self {
        Self {
            session,
            origin,
            by_request: Vec::new(),
            task_lists: TaskListAnswers::AnyListing,
        }
    }

    /// The tracker of a forwarded POST from `identity` whose messages were judged as `messages`.
    pub fn of_post(
        identity: &Identity,
        session: Option<String>,
        messages: &[MessageAudit],
    ) -> Self {
        let by_request = messages
            .iter()
            .filter(|m| m.method.is_some())
            .filter_map(|m| Some((m.jsonrpc_id.as_ref()?.to_string(), m.rule.clone())))
            .collect();
        let task_lists = messages
            .iter()
            .filter(|m| m.method.as_deref() == Some(TASKS_LIST))
            .filter_map(|m| Some(m.jsonrpc_id.as_ref()?.to_string()))
            .collect();
        Self {
            session,
            origin: Origin::new(identity, messages.iter().map(|m| m.rule.clone()).collect()),
            by_request,
            task_lists: TaskListAnswers::To(task_lists),
        }
    }

    /// The server message(s) `data` (one JSON-RPC message or a batch) with the task lists they
    /// carry filtered: each `tasks/list` answer keeps only the tasks whose remembered owner is this
    /// exchange's caller; a task of another caller, one Warden never saw, one forgotten, or an
    /// entry without a string `taskId` is removed (fail closed, as reads of such tasks are refused).
    /// Everything else (`nextCursor`, `_meta`, other messages) is kept.
    ///
    /// Returns `None` when `data` carries no task list (then it goes on as it is); otherwise the
    /// messages re-serialized (compact JSON), even when nothing was removed, so that the client
    /// decodes exactly the list that was judged (no repeated member can hide another list).
    pub fn filter_task_lists(&self, store: &dyn OriginStore, data: &[u8]) -> Option<String> {
        if matches!(&self.task_lists, TaskListAnswers::To(ids) if ids.is_empty())
            || (memchr::memmem::find(data, b"tasks").is_none()
                // `\u0074asks` is `tasks` too once decoded.
                && memchr::memmem::find(data, b"\\u").is_none())
        {
            return None;
        }
        let mut doc = serde_json::from_slice::<Value>(data).ok()?;
        let listed = match &mut doc {
            Value::Array(batch) => batch
                .iter_mut()
                .fold(false, |listed, m| self.filter_task_list(store, m) | listed),
            message => self.filter_task_list(store, message),
        };
        listed.then(|| doc.to_string())
    }

    /// Filters `message` when it answers a `tasks/list` ([`OriginTracker::filter_task_lists`]);
    /// returns whether it did.
    fn filter_task_list(&self, store: &dyn OriginStore, message: &mut Value) -> bool {
        let answers = match &self.task_lists {
            TaskListAnswers::To(ids) => message
                .get("id")
                .is_some_and(|id| ids.contains(&id.to_string())),
            TaskListAnswers::AnyListing => message.get("id").is_some(),
        };
        let Some(tasks) = message
            .get_mut("result")
            .filter(|_| answers)
            .and_then(|result| result.get_mut("tasks"))
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        tasks.retain(|task| {
            task.get("taskId")
                .and_then(Value::as_str)
                .and_then(|id| store.recall(OriginKind::Task, id))
                .is_some_and(|origin| origin.same_owner(&self.origin))
        });
        true
    }

    /// Remembers the tasks that the server message(s) `data` create ([`created_tasks`]): owned by
    /// this exchange's caller, under the rule of the request each answers.
    pub fn note_tasks(&self, store: &dyn OriginStore, data: &[u8]) {
        for (request, task) in created_tasks(data) {
            let origin = match self.by_request.iter().find(|(id, _)| *id == request) {
                Some((_, rule)) => Origin {
                    rules: vec![rule.clone()],
                    ..self.origin.clone()
                },
                None => self.origin.clone(),
            };
            store.remember(OriginKind::Task, &task, &origin);
        }
    }

    /// Remembers the event ids of the SSE bytes `out` ([`event_ids`]) as this exchange's.
    pub fn note_event_ids(&self, store: &dyn OriginStore, out: &[u8]) {
        for id in event_ids(out) {
            let key = stream_key(self.session.as_deref(), &id);
            store.remember(OriginKind::Stream, &key, &self.origin);
        }
    }
}

impl Engine {
    /// The detectors for responses about something `origin` started: the union of the profiles of
    /// its rules as configured now (a rule without `mask`: the default profile). The strictest
    /// profile of the policy ([`Engine::unknown_call_response_plan`]) when the origin names no rule,
    /// or a rule or profile that no longer exists.
    pub fn origin_detectors(&self, origin: &Origin) -> Option<DetectorSet> {
        let strictest = || self.unknown_call_response_plan().detectors;
        if origin.rules.is_empty() {
            return strictest();
        }
        let mut detectors: Option<DetectorSet> = None;
        for rule in &origin.rules {
            let profile = match rule {
                Some(id) => match self.policy.rule_mask(id) {
                    Some(mask) => mask,
                    None => return strictest(),
                },
                None => None,
            };
            let Some(set) = self.masker.profile(profile) else {
                return strictest();
            };
            match &mut detectors {
                Some(all) => all.union(&set),
                None => detectors = Some(set),
            }
        }
        detectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin(sub: &str) -> Origin {
        Origin {
            iss: "https://idp".to_owned(),
            sub: sub.to_owned(),
            rules: vec![Some("r".to_owned())],
        }
    }

    /// `n` distinct ids that share the bucket of `id`.
    fn same_bucket(id: &str, n: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("flood-{i}"))
            .filter(|c| bucket_of(c) == bucket_of(id))
            .take(n)
            .collect()
    }

    #[test]
    fn a_full_bucket_evicts_its_oldest_id_and_keeps_the_rest() {
        let store = MemoryOrigins::default();
        store.remember(OriginKind::Task, "victim", &origin("alice"));
        let flood = same_bucket("victim", BUCKET_ENTRIES);
        for id in &flood[..BUCKET_ENTRIES - 1] {
            store.remember(OriginKind::Task, id, &origin("mallory"));
        }
        assert_eq!(
            store.recall(OriginKind::Task, "victim"),
            Some(origin("alice"))
        );
        store.remember(
            OriginKind::Task,
            &flood[BUCKET_ENTRIES - 1],
            &origin("mallory"),
        );
        assert_eq!(store.recall(OriginKind::Task, "victim"), None);
        assert!(store.recall(OriginKind::Task, &flood[0]).is_some());
    }

    #[test]
    fn an_id_keeps_its_first_owner_and_kinds_are_separate() {
        let store = MemoryOrigins::default();
        store.remember(OriginKind::Stream, "s_1", &origin("alice"));
        store.remember(OriginKind::Stream, "s_1", &origin("mallory"));
        assert_eq!(
            store.recall(OriginKind::Stream, "s_1"),
            Some(origin("alice"))
        );
        assert_eq!(store.recall(OriginKind::Task, "s_1"), None);
    }

    #[test]
    fn created_tasks_of_both_result_shapes_are_found() {
        let legacy = json!({"jsonrpc": "2.0", "id": 3, "result": {"task": {"taskId": "t-1", "status": "working"}}});
        let extension =
            json!({"jsonrpc": "2.0", "id": "a", "result": {"resultType": "task", "taskId": "t-2"}});
        let plain = json!({"jsonrpc": "2.0", "id": 4, "result": {"content": [], "taskId": "t-3"}});
        let batch = json!([legacy, extension, plain]);
        assert_eq!(
            created_tasks(batch.to_string().as_bytes()),
            vec![
                ("3".to_owned(), "t-1".to_owned()),
                ("\"a\"".to_owned(), "t-2".to_owned())
            ]
        );
        assert!(created_tasks(b"{\"result\":{}}").is_empty());
    }

    #[test]
    fn event_ids_are_read_from_id_fields_only() {
        let stream = b"\xEF\xBB\xBFid: s_1\r\ndata:\r\n\r\nid:s_2\nevent: message\ndata: {\"id\": 9}\n\nidle: x\nid\nid: a\0b\n\n";
        assert_eq!(event_ids(stream), vec!["s_1", "s_2"]);
    }

    #[test]
    fn task_lists_keep_the_callers_remembered_tasks_and_everything_else() {
        let store = MemoryOrigins::default();
        store.remember(OriginKind::Task, "a-1", &origin("alice"));
        store.remember(OriginKind::Task, "m-1", &origin("mallory"));
        let alice = Identity {
            iss: "https://idp".into(),
            sub: "alice".into(),
            email: None,
            groups: Vec::new(),
            scopes: Vec::new(),
            client_id: None,
            claims: json!({}).into(),
        };
        let list = |id: i64| {
            json!({"jsonrpc": "2.0", "id": id, "result": {"nextCursor": "c", "tasks": [
                {"taskId": "m-1"}, {"taskId": "a-1", "status": "working"}, {"taskId": "unknown"},
                {"taskId": 7}, {"status": "working"}]}})
        };
        let listing = json!({"jsonrpc": "2.0", "id": 2, "method": "tasks/list"});
        let messages = [MessageAudit {
            method: Some("tasks/list".into()),
            tool: None,
            jsonrpc_id: Some(json!(2)),
            arguments_digest: None,
            decision: crate::audit::AuditDecision::Allow,
            rule: None,
            jsonrpc_error: None,
            approval: None,
            payload: None,
            records_result: false,
            tool_fingerprint: None,
        }];
        let post = OriginTracker::of_post(&alice, None, &messages);
        let batch = json!([list(2), list(3), listing]).to_string();
        let filtered: Value =
            serde_json::from_str(&post.filter_task_lists(&store, batch.as_bytes()).unwrap())
                .unwrap();
        assert_eq!(
            filtered[0]["result"],
            json!({"nextCursor": "c", "tasks": [{"taskId": "a-1", "status": "working"}]})
        );
        assert_eq!(
            filtered[1],
            list(3),
            "id 3 answers no tasks/list of this exchange"
        );
        // A GET stream's requests are unknown: any listing is filtered.
        let stream = OriginTracker::new(None, Origin::new(&alice, Vec::new()));
        let one = list(3).to_string();
        let filtered: Value =
            serde_json::from_str(&stream.filter_task_lists(&store, one.as_bytes()).unwrap())
                .unwrap();
        assert_eq!(
            filtered["result"]["tasks"],
            json!([{"taskId": "a-1", "status": "working"}])
        );
        assert_eq!(
            post.filter_task_lists(&store, b"{\"id\":2,\"result\":{}}"),
            None
        );
        // A member name spelled with a `\u` escape is the same `tasks` to the client.
        let escaped = one.replace("\"tasks\"", "\"\\u0074asks\"");
        let filtered: Value = serde_json::from_str(
            &stream
                .filter_task_lists(&store, escaped.as_bytes())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            filtered["result"]["tasks"],
            json!([{"taskId": "a-1", "status": "working"}])
        );
    }

    #[test]
    fn addressed_task_needs_a_string_task_id() {
        let params = json!({"taskId": "t-1"});
        assert_eq!(
            addressed_task("tasks/result", Some(&params)),
            Some(Ok("t-1".to_owned()))
        );
        assert_eq!(
            addressed_task("tasks/get", Some(&json!({"taskId": 7}))),
            Some(Err(()))
        );
        assert_eq!(addressed_task("tasks/list", Some(&params)), None);
    }
}
