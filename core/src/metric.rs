//! [`Counter`]: every counter Warden increments, with its stat name. The filter defines them in Envoy
//! (`define_metric`) under [`Counter::name`]; nothing else spells a metric name.

use std::borrow::Cow;

/// A counter. Names are Envoy stat names (dot-separated; Envoy prefixes them with `wasmcustom.`), so
/// operators can turn the trailing segment of the parameterised ones into a tag with `stats_tags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counter {
    /// `warden.requests`: HTTP requests seen by the filter.
    Requests,
    /// `warden.denied`: JSON-RPC messages refused by policy or by an approval outcome.
    Denied,
    /// `warden.masked.<DETECTOR>`: values masked by one detector.
    Masked(String),
    /// `warden.jwt.failures.<reason>`: bearer tokens refused, by [`crate::jwt::AuthError::reason`].
    JwtFailures(&'static str),
    /// `warden.approvals.checks`: calls held and checked with `warden serve`.
    ApprovalChecks,
    /// `warden.approvals.granted`: held calls forwarded (approved, or `fail_mode: open`).
    ApprovalsGranted,
    /// `warden.approvals.refused`: held calls answered with an error (denied, pending, unavailable).
    ApprovalsRefused,
    /// `warden.audit.shipped`: audit records the audit store acknowledged.
    AuditShipped,
    /// `warden.audit.dropped`: audit records that will not reach the store (the access log has them).
    AuditDropped,
    /// `warden.jwks.fetches.<reason>`: remote JWKS fetches started, by
    /// [`crate::jwt::RefreshReason::name`].
    JwksFetches(&'static str),
    /// `warden.jwks.loaded`: remote key sets fetched and stored.
    JwksLoaded,
    /// `warden.jwks.failures`: remote key set fetches that failed (the last good set is kept).
    JwksFailures,
}

impl Counter {
    /// The stat name.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Self::Requests => "warden.requests".into(),
            Self::Denied => "warden.denied".into(),
            Self::Masked(detector) => format!("warden.masked.{detector}").into(),
            Self::JwtFailures(reason) => format!("warden.jwt.failures.{reason}").into(),
            Self::ApprovalChecks => "warden.approvals.checks".into(),
            Self::ApprovalsGranted => "warden.approvals.granted".into(),
            Self::ApprovalsRefused => "warden.approvals.refused".into(),
            Self::AuditShipped => "warden.audit.shipped".into(),
            Self::AuditDropped => "warden.audit.dropped".into(),
            Self::JwksFetches(reason) => format!("warden.jwks.fetches.{reason}").into(),
            Self::JwksLoaded => "warden.jwks.loaded".into(),
            Self::JwksFailures => "warden.jwks.failures".into(),
        }
    }
}
