//! The PostgreSQL side of [`crate::serve::store::pins`]. Replicas reporting the same new tool race
//! on `INSERT … ON CONFLICT DO NOTHING`, which waits for a concurrent insert of the same key and
//! keeps the first committed row: one pin per `(upstream, tool)`, first writer wins. An approval
//! locks the tool's pin row (`FOR UPDATE`) so two approvers are applied one after the other.

use anyhow::Context;
use warden_core::pinning::wire::ObservedTool;

use super::super::pins::{change_of, PinChange, PinError, PinRecord, CHANGE_COLUMNS};
use super::PgStore;

impl PgStore {
    /// As [`super::super::Store::observe_pins`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn observe_pins(
        &self,
        upstream: &str,
        tools: &[ObservedTool],
        pin_new: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        for t in tools {
            let definition = t.definition.to_string();
            if pin_new {
                tx.execute(
                    "INSERT INTO tool_pins (upstream, tool, fingerprint, definition_json, pinned_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[&upstream, &t.tool, &t.fingerprint, &definition, &now],
                )
                .await?;
            }
            let pin: Option<String> = tx
                .query_opt(
                    "SELECT fingerprint FROM tool_pins WHERE upstream = $1 AND tool = $2",
                    &[&upstream, &t.tool],
                )
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            if pin.as_deref() != Some(t.fingerprint.as_str()) {
                tx.execute(
                    "INSERT INTO tool_pin_changes (upstream, tool, fingerprint, previous, \
                     definition_json, seen_at, status) VALUES ($1, $2, $3, $4, $5, $6, 'pending') \
                     ON CONFLICT DO NOTHING",
                    &[&upstream, &t.tool, &t.fingerprint, &pin, &definition, &now],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// As [`super::super::Store::pin_records`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn pin_records(&self, upstream: &str) -> anyhow::Result<Vec<PinRecord>> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT tool, fingerprint, definition_json, pinned_at, pinned_by FROM tool_pins \
                 WHERE upstream = $1 ORDER BY tool",
                &[&upstream],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let definition: String = row.try_get(2)?;
                Ok(PinRecord {
                    tool: row.try_get(0)?,
                    fingerprint: row.try_get(1)?,
                    definition: serde_json::from_str(&definition).context("stored definition")?,
                    pinned_at: row.try_get(3)?,
                    pinned_by: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// As [`super::super::Store::pin_changes`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn pin_changes(
        &self,
        upstream: &str,
        tool: Option<&str>,
    ) -> anyhow::Result<Vec<PinChange>> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CHANGE_COLUMNS} FROM tool_pin_changes WHERE upstream = $1 \
                     AND ($2::TEXT IS NULL OR tool = $2) ORDER BY seen_at DESC, tool"
                ),
                &[&upstream, &tool],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let definition: String = row.try_get(3)?;
                change_of(
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    &definition,
                    row.try_get(4)?,
                    row.try_get(5)?,
                    row.try_get(6)?,
                    row.try_get(7)?,
                )
            })
            .collect()
    }

    /// As [`super::super::Store::approve_pin`].
    ///
    /// # Errors
    /// [`PinError`] when nothing is pending; database errors otherwise.
    pub async fn approve_pin(
        &self,
        upstream: &str,
        tool: &str,
        approver: &str,
        now: i64,
        reviewed: Option<&str>,
    ) -> anyhow::Result<PinRecord> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT 1 FROM tool_pins WHERE upstream = $1 AND tool = $2 FOR UPDATE",
            &[&upstream, &tool],
        )
        .await?;
        let Some(row) = tx
            .query_opt(
                "SELECT fingerprint, definition_json FROM tool_pin_changes WHERE upstream = $1 \
                 AND tool = $2 AND status = 'pending' AND ($3::TEXT IS NULL OR fingerprint = $3) \
                 ORDER BY seen_at DESC LIMIT 1 FOR UPDATE",
                &[&upstream, &tool, &reviewed],
            )
            .await?
        else {
            return Err(PinError::not_pending(tool, reviewed).into());
        };
        let fingerprint: String = row.try_get(0)?;
        let definition: String = row.try_get(1)?;
        tx.execute(
            "INSERT INTO tool_pins (upstream, tool, fingerprint, definition_json, pinned_at, pinned_by) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (upstream, tool) DO UPDATE SET \
             fingerprint = excluded.fingerprint, definition_json = excluded.definition_json, \
             pinned_at = excluded.pinned_at, pinned_by = excluded.pinned_by",
            &[&upstream, &tool, &fingerprint, &definition, &now, &approver],
        )
        .await?;
        tx.execute(
            "UPDATE tool_pin_changes SET status = CASE WHEN fingerprint = $3 THEN 'approved' \
             ELSE 'superseded' END, decided_by = $4, decided_at = $5 \
             WHERE upstream = $1 AND tool = $2 AND status = 'pending'",
            &[&upstream, &tool, &fingerprint, &approver, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(PinRecord {
            tool: tool.to_owned(),
            fingerprint,
            definition: serde_json::from_str(&definition).context("stored definition")?,
            pinned_at: now,
            pinned_by: Some(approver.to_owned()),
        })
    }
}
