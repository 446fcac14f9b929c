//! The SQLite side of [`crate::serve::store::pins`]: each operation in one `BEGIN IMMEDIATE`
//! transaction.

use anyhow::Context;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use warden_core::pinning::wire::ObservedTool;

use super::super::pins::{change_of, PinChange, PinError, PinRecord, CHANGE_COLUMNS};
use super::SqliteStore;

impl SqliteStore {
    /// As [`super::super::Store::observe_pins`].
    ///
    /// # Errors
    /// On database errors.
    pub fn observe_pins(
        &self,
        upstream: &str,
        tools: &[ObservedTool],
        pin_new: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for t in tools {
            let definition = t.definition.to_string();
            if pin_new {
                tx.execute(
                    "INSERT INTO tool_pins (upstream, tool, fingerprint, definition_json, pinned_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![upstream, t.tool, t.fingerprint, definition, now],
                )?;
            }
            let pin: Option<String> = tx
                .query_row(
                    "SELECT fingerprint FROM tool_pins WHERE upstream = ?1 AND tool = ?2",
                    params![upstream, t.tool],
                    |row| row.get(0),
                )
                .optional()?;
            if pin.as_deref() != Some(t.fingerprint.as_str()) {
                tx.execute(
                    "INSERT INTO tool_pin_changes (upstream, tool, fingerprint, previous, \
                     definition_json, seen_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending') \
                     ON CONFLICT DO NOTHING",
                    params![upstream, t.tool, t.fingerprint, pin, definition, now],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// As [`super::super::Store::pin_records`].
    ///
    /// # Errors
    /// On database errors.
    pub fn pin_records(&self, upstream: &str) -> anyhow::Result<Vec<PinRecord>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT tool, fingerprint, definition_json, pinned_at, pinned_by FROM tool_pins \
             WHERE upstream = ?1 ORDER BY tool",
        )?;
        let rows = statement.query_map(params![upstream], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (tool, fingerprint, definition, pinned_at, pinned_by) = row?;
            Ok(PinRecord {
                tool,
                fingerprint,
                definition: serde_json::from_str(&definition).context("stored definition")?,
                pinned_at,
                pinned_by,
            })
        })
        .collect()
    }

    /// As [`super::super::Store::pin_changes`].
    ///
    /// # Errors
    /// On database errors.
    pub fn pin_changes(
        &self,
        upstream: &str,
        tool: Option<&str>,
    ) -> anyhow::Result<Vec<PinChange>> {
        let conn = self.lock();
        let mut statement = conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM tool_pin_changes WHERE upstream = ?1 \
             AND (?2 IS NULL OR tool = ?2) ORDER BY seen_at DESC, tool"
        ))?;
        let rows = statement.query_map(params![upstream, tool], change_row)?;
        rows.map(|row| {
            let (tool, fp, previous, definition, seen_at, status, by, at) = row?;
            change_of(tool, fp, previous, &definition, seen_at, status, by, at)
        })
        .collect()
    }

    /// The changes of every upstream first reported at or after `since` (Unix seconds), newest
    /// first (for `warden review report`).
    ///
    /// # Errors
    /// On database errors.
    pub fn pin_changes_since(&self, since: i64) -> anyhow::Result<Vec<PinChange>> {
        let conn = self.lock();
        let mut statement = conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM tool_pin_changes WHERE seen_at >= ?1 \
             ORDER BY seen_at DESC, tool"
        ))?;
        let rows = statement.query_map(params![since], change_row)?;
        rows.map(|row| {
            let (tool, fp, previous, definition, seen_at, status, by, at) = row?;
            change_of(tool, fp, previous, &definition, seen_at, status, by, at)
        })
        .collect()
    }

    /// As [`super::super::Store::approve_pin`].
    ///
    /// # Errors
    /// [`PinError`] when nothing is pending; database errors otherwise.
    pub fn approve_pin(
        &self,
        upstream: &str,
        tool: &str,
        approver: &str,
        now: i64,
        reviewed: Option<&str>,
    ) -> anyhow::Result<PinRecord> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending: Option<(String, String)> = tx
            .query_row(
                "SELECT fingerprint, definition_json FROM tool_pin_changes WHERE upstream = ?1 \
                 AND tool = ?2 AND status = 'pending' AND (?3 IS NULL OR fingerprint = ?3) \
                 ORDER BY seen_at DESC LIMIT 1",
                params![upstream, tool, reviewed],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((fingerprint, definition)) = pending else {
            return Err(PinError::not_pending(tool, reviewed).into());
        };
        tx.execute(
            "INSERT INTO tool_pins (upstream, tool, fingerprint, definition_json, pinned_at, pinned_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (upstream, tool) DO UPDATE SET \
             fingerprint = excluded.fingerprint, definition_json = excluded.definition_json, \
             pinned_at = excluded.pinned_at, pinned_by = excluded.pinned_by",
            params![upstream, tool, fingerprint, definition, now, approver],
        )?;
        tx.execute(
            "UPDATE tool_pin_changes SET status = CASE WHEN fingerprint = ?3 THEN 'approved' \
             ELSE 'superseded' END, decided_by = ?4, decided_at = ?5 \
             WHERE upstream = ?1 AND tool = ?2 AND status = 'pending'",
            params![upstream, tool, fingerprint, approver, now],
        )?;
        tx.commit()?;
        Ok(PinRecord {
            tool: tool.to_owned(),
            fingerprint,
            definition: serde_json::from_str(&definition).context("stored definition")?,
            pinned_at: now,
            pinned_by: Some(approver.to_owned()),
        })
    }
}

/// The columns of one [`CHANGE_COLUMNS`] row.
type ChangeRow = (
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
);

fn change_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}
