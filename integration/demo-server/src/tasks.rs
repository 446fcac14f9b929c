//! Tasks (the MCP tasks extension `io.modelcontextprotocol/tasks`, SEP-2663, as rmcp implements it;
//! plus the 2025-11-25 `tasks/result` and `tasks/list`, which rmcp does not model and the server
//! answers as custom requests).
//!
//! A `tools/call` of `search_customers` from a client that declared the tasks extension runs as a
//! task: the call is answered at once with a `CreateTaskResult` (`resultType: "task"`, status
//! `working`) and the tool runs in the background. Then:
//! - `tasks/get` answers the task's state, the tool result inline once `completed`;
//! - `tasks/result` waits until the task ends and answers the tool result itself (or its error),
//!   with `_meta["io.modelcontextprotocol/related-task"]`, as 2025-11-25 does;
//! - `tasks/list` answers every task (`{"tasks": [...]}`).
//!
//! The store is shared by every session of both endpoints and binds no task to a caller: anyone who
//! knows (or guesses: ids are `task-1`, `task-2`, …) a task id reads it. Keeping callers apart is
//! Warden's job, and the end-to-end tests prove it does.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, PoisonError,
};

use rmcp::model::{
    CallToolResponse, CreateTaskResult, CustomResult, DetailedTask, ErrorData, GetTaskResult,
    JsonObject, Task, TaskPayload, TaskStatus,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

/// The `_meta` key relating a result to its task (MCP 2025-11-25 tasks).
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// How a task ended: the tool's result object, or the JSON-RPC error it failed with.
type Outcome = Result<JsonObject, ErrorData>;

/// One task: its metadata (status kept current) and its outcome once it ended.
#[derive(Debug)]
struct Entry {
    task: Task,
    outcome: watch::Receiver<Option<Outcome>>,
}

/// Every task of the server, by id; cloning shares the store.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    entries: Arc<Mutex<BTreeMap<String, Entry>>>,
    next_id: Arc<AtomicU64>,
}

/// The current time as RFC 3339 (ISO 8601), UTC.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// `value` as a JSON object (`{}` when it serializes to anything else).
fn object_of(value: impl serde::Serialize) -> JsonObject {
    match serde_json::to_value(value) {
        Ok(Value::Object(object)) => object,
        _ => JsonObject::new(),
    }
}

/// The JSON-RPC error for a task id the server does not know (`-32602`, as SEP-2663 says).
fn unknown(task_id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("no task {task_id:?}"),
        Some(json!({"taskId": task_id})),
    )
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `work` (a tool call) as a new task on the Tokio runtime and returns the task handle the
    /// call is answered with.
    pub fn start(
        &self,
        work: impl Future<Output = Result<CallToolResponse, ErrorData>> + Send + 'static,
    ) -> CreateTaskResult {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let task_id = format!("task-{n}");
        let created = now();
        // No TTL (`ttlMs: null`): tasks are kept for the life of the process.
        let task =
            Task::new(&task_id, TaskStatus::Working, &created, &created).with_poll_interval_ms(50);
        let (done, outcome) = watch::channel(None);
        self.lock().insert(
            task_id.clone(),
            Entry {
                task: task.clone(),
                outcome,
            },
        );
        let tasks = self.clone();
        tokio::spawn(async move {
            let outcome = match work.await {
                Ok(CallToolResponse::Complete(result)) => Ok(object_of(result)),
                Ok(_) => Err(ErrorData::internal_error(
                    "the tool did not complete within its task",
                    None,
                )),
                Err(error) => Err(error),
            };
            let status = match outcome {
                Ok(_) => TaskStatus::Completed,
                Err(_) => TaskStatus::Failed,
            };
            if let Some(entry) = tasks.lock().get_mut(&task_id) {
                entry.task.status = status;
                entry.task.last_updated_at = now();
            }
            // Nobody waiting is fine: the receiver in the store keeps the value.
            let _ = done.send(Some(outcome));
        });
        CreateTaskResult::new(task)
    }

    /// `tasks/get`: the task's state, with its result (or error) once it ended.
    ///
    /// # Errors
    /// `-32602` for an unknown task id.
    pub fn get(&self, task_id: &str) -> Result<GetTaskResult, ErrorData> {
        let entries = self.lock();
        let entry = entries.get(task_id).ok_or_else(|| unknown(task_id))?;
        let payload = match &*entry.outcome.borrow() {
            None => TaskPayload::Working,
            Some(Ok(result)) => TaskPayload::Completed {
                result: result.clone(),
            },
            Some(Err(error)) => TaskPayload::Failed {
                error: object_of(error),
            },
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            entry.task.clone(),
            payload,
        )))
    }

    /// `tasks/result` (MCP 2025-11-25): waits until the task ended, then answers the tool's result
    /// with the related-task `_meta`.
    ///
    /// # Errors
    /// `-32602` for an unknown task id; the task's own error when it failed.
    pub async fn result(&self, task_id: &str) -> Result<CustomResult, ErrorData> {
        let mut outcome = self
            .lock()
            .get(task_id)
            .map(|entry| entry.outcome.clone())
            .ok_or_else(|| unknown(task_id))?;
        let ended = outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ErrorData::internal_error("the task was dropped", None))?;
        let mut result = match &*ended {
            Some(Ok(result)) => result.clone(),
            Some(Err(error)) => return Err(error.clone()),
            None => return Err(ErrorData::internal_error("the task has not ended", None)),
        };
        let meta = result
            .entry("_meta")
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if let Value::Object(meta) = meta {
            meta.insert(RELATED_TASK.to_owned(), json!({"taskId": task_id}));
        }
        Ok(CustomResult::new(Value::Object(result)))
    }

    /// `tasks/list` (MCP 2025-11-25): every task, whoever created it, sorted by id.
    pub fn list(&self) -> CustomResult {
        let entries = self.lock();
        let tasks: Vec<&Task> = entries.values().map(|entry| &entry.task).collect();
        CustomResult::new(json!({ "tasks": tasks }))
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{CallToolResult, ErrorCode};

    use super::*;

    fn finished(text: &str) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![
            rmcp::model::ContentBlock::text(text),
        ])))
    }

    #[tokio::test]
    async fn a_task_answers_its_result_with_the_related_task_and_is_listed_for_anyone() {
        let tasks = Tasks::default();
        let created = tasks.start(async { finished("done") });
        assert_eq!(created.task.task_id, "task-1");
        assert_eq!(created.task.status, TaskStatus::Working);
        let result = tasks.result("task-1").await.unwrap().0;
        assert_eq!(result["content"][0]["text"], "done");
        assert_eq!(result["_meta"][RELATED_TASK]["taskId"], "task-1");
        let got = serde_json::to_value(tasks.get("task-1").unwrap()).unwrap();
        assert_eq!(got["status"], "completed");
        assert_eq!(got["result"]["content"][0]["text"], "done");
        tasks.start(async { Err(ErrorData::internal_error("boom", None)) });
        let listed = tasks.list().0;
        assert_eq!(listed["tasks"][0]["taskId"], "task-1");
        assert_eq!(listed["tasks"][1]["taskId"], "task-2");
        assert_eq!(tasks.result("task-2").await.unwrap_err().message, "boom");
    }

    #[tokio::test]
    async fn an_unknown_task_is_invalid_params() {
        let tasks = Tasks::default();
        assert_eq!(
            tasks.get("nope").unwrap_err().code,
            ErrorCode::INVALID_PARAMS
        );
        let error = tasks.result("nope").await.unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(error.data.unwrap()["taskId"], "nope");
    }
}
