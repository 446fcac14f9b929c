//! [`ResourceServer`]: what Warden says to clients as an OAuth 2.1 resource server (RFC 9728 metadata,
//! RFC 6750 challenges), and what it sends upstream in place of the caller's token.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Map, Value};

use super::remote::FetchTarget;
use super::AuthError;
use crate::config::{
    check_env_name, PluginConfig, ResourceMetadataConfig, UpstreamCredentialConfig,
};
use crate::error::ConfigError;
use crate::identity::Identity;

/// The well-known path of the protected-resource metadata (RFC 9728 §3). The metadata of a resource
/// with a path is served at this path followed by the resource's path (RFC 9728 §3.1).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// Prefix of the identity headers; headers with it arriving from the client are always removed.
pub const IDENTITY_HEADER_PREFIX: &str = "x-warden-";

/// Bytes percent-encoded in identity header values: controls, non-ASCII, `%` (so values can be
/// decoded unambiguously) and `,` (the list separator of `x-warden-groups`).
const HEADER_VALUE_ENCODE: &AsciiSet = &CONTROLS.add(b'%').add(b',');

/// The compiled `resource_metadata`, `upstream_credential` and `identity_headers` settings.
#[derive(Debug, Clone)]
pub struct ResourceServer {
    metadata: Option<Metadata>,
    credential: Option<UpstreamCredentialConfig>,
    identity_headers: bool,
}

#[derive(Debug, Clone)]
struct Metadata {
    /// The RFC 9728 §2 document, serialized.
    document: String,
    /// Request paths that serve it: the path-suffixed form and the bare well-known path.
    paths: Vec<String>,
    /// Absolute URL of the path-suffixed form, for `resource_metadata=` in challenges.
    url: String,
    /// `scopes_supported`, space-separated, for `scope=` in challenges.
    scope: Option<String>,
}

/// A header the filter sets on every forwarded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCredential {
    /// Lowercase header name.
    pub header: String,
    /// Header value (`prefix` + the secret).
    pub value: String,
}

impl ResourceServer {
    /// Compiles the resource-server settings of `config`.
    ///
    /// # Errors
    /// A [`ConfigError`] at the member at fault: a `resource` that is not an absolute http(s) URL
    /// without query or fragment, an empty `authorization_servers` or `scopes_supported` list or an
    /// empty entry in them, a scope with a space or `"`, an `upstream_credential.header` that is not
    /// a lowercase HTTP token or is a pseudo-header or a header the filter manages, an empty `env`.
    pub fn from_config(config: &PluginConfig) -> Result<ResourceServer, ConfigError> {
        let metadata = config
            .resource_metadata
            .as_ref()
            .map(|m| Metadata::compile(m, config, "resource_metadata"))
            .transpose()?;
        if let Some(credential) = &config.upstream_credential {
            check_credential(credential, "upstream_credential")?;
        }
        Ok(ResourceServer {
            metadata,
            credential: config.upstream_credential.clone(),
            identity_headers: config.identity_headers,
        })
    }

    /// Whether `path` (the request's `:path`, query included) is under the well-known metadata path
    /// (`/.well-known/oauth-protected-resource` or `/.well-known/oauth-protected-resource/...`):
    /// such requests are answered by the filter and never forwarded.
    pub fn is_metadata_path(path: &str) -> bool {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        path.strip_prefix(WELL_KNOWN_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The metadata document (JSON) served at `path` (query ignored): at the path-suffixed form of
    /// the configured resource and at the bare well-known path. `None` for other paths, or when no
    /// `resource_metadata` is configured (answer 404).
    pub fn metadata_document(&self, path: &str) -> Option<&str> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let metadata = self.metadata.as_ref()?;
        metadata
            .paths
            .iter()
            .any(|p| p == path)
            .then_some(metadata.document.as_str())
    }

    /// The `WWW-Authenticate` value for a refused token (RFC 6750 §3): `Bearer`, then
    /// `resource_metadata="<URL>"` (RFC 9728 §5.1) and `scope="<scopes_supported>"` when metadata is
    /// configured, then `error` and `error_description` unless the request carried no credentials
    /// (RFC 6750 §3.1).
    pub fn challenge(&self, error: &AuthError) -> String {
        let mut params = self.metadata_params();
        if *error != AuthError::Missing {
            params.push(format!("error=\"{}\"", error.error_code()));
            params.push(format!(
                "error_description=\"{}\"",
                quoted_string_safe(&error.to_string())
            ));
        }
        join_challenge(params)
    }

    /// The `WWW-Authenticate` value of a 403 for a call needing scopes the token lacks (RFC 6750
    /// §3.1 `insufficient_scope`): `scope` lists the scopes the call needs (MCP authorization,
    /// step-up).
    pub fn insufficient_scope_challenge(&self, required: &[String]) -> String {
        let mut params: Vec<String> = self
            .metadata
            .as_ref()
            .map(|m| vec![format!("resource_metadata=\"{}\"", m.url)])
            .unwrap_or_default();
        params.push(format!(
            "scope=\"{}\"",
            quoted_string_safe(&required.join(" "))
        ));
        params.push("error=\"insufficient_scope\"".to_owned());
        params.push(format!(
            "error_description=\"this call needs the scope(s) {}\"",
            quoted_string_safe(&required.join(" "))
        ));
        join_challenge(params)
    }

    /// The upstream credential, its secret read with `env` (the VM's environment).
    ///
    /// # Errors
    /// A [`ConfigError`] at `upstream_credential.env` when the variable is unset or empty.
    pub fn upstream_credential(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<UpstreamCredential>, ConfigError> {
        let Some(config) = &self.credential else {
            return Ok(None);
        };
        let secret = secret_from_env(&env, &config.env, "upstream_credential.env")?;
        let value = format!("{}{secret}", config.prefix);
        Ok(Some(UpstreamCredential {
            header: config.header.clone(),
            value,
        }))
    }

    /// The `x-warden-*` headers describing `identity` to the upstream, when `identity_headers` is
    /// on (empty otherwise): `x-warden-iss`, `x-warden-sub`, and when present `x-warden-email`,
    /// `x-warden-client-id`, `x-warden-groups` (comma-separated), `x-warden-scopes`
    /// (space-separated). Controls, non-ASCII bytes, `%` and `,` in values are percent-encoded
    /// (RFC 3986 §2.1), so every value is a valid header value and lists split unambiguously.
    pub fn identity_headers(&self, identity: &Identity) -> Vec<(&'static str, String)> {
        if !self.identity_headers {
            return Vec::new();
        }
        let encode = |v: &str| utf8_percent_encode(v, HEADER_VALUE_ENCODE).to_string();
        let list = |items: &[String], separator: &str| {
            items
                .iter()
                .map(|i| encode(i))
                .collect::<Vec<_>>()
                .join(separator)
        };
        let mut headers = vec![
            ("x-warden-iss", encode(&identity.iss)),
            ("x-warden-sub", encode(&identity.sub)),
        ];
        if let Some(email) = &identity.email {
            headers.push(("x-warden-email", encode(email)));
        }
        if let Some(client_id) = &identity.client_id {
            headers.push(("x-warden-client-id", encode(client_id)));
        }
        if !identity.groups.is_empty() {
            headers.push(("x-warden-groups", list(&identity.groups, ",")));
        }
        if !identity.scopes.is_empty() {
            headers.push(("x-warden-scopes", list(&identity.scopes, " ")));
        }
        headers
    }

    fn metadata_params(&self) -> Vec<String> {
        let Some(metadata) = &self.metadata else {
            return Vec::new();
        };
        let mut params = vec![format!("resource_metadata=\"{}\"", metadata.url)];
        if let Some(scope) = &metadata.scope {
            params.push(format!("scope=\"{scope}\""));
        }
        params
    }
}

impl Metadata {
    fn compile(
        config: &ResourceMetadataConfig,
        plugin: &PluginConfig,
        path: &str,
    ) -> Result<Metadata, ConfigError> {
        let resource_at = format!("{path}.resource");
        let target =
            FetchTarget::parse(&config.resource).map_err(|e| ConfigError::new(&resource_at, e))?;
        if target.path.contains('?') {
            return Err(ConfigError::new(
                &resource_at,
                "must not have a query (RFC 8707 §2)",
            ));
        }
        let scheme = if config.resource.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        let resource_path = target.path.trim_end_matches('/');
        let suffixed = format!("{WELL_KNOWN_PATH}{resource_path}");
        let url = format!("{scheme}://{}{suffixed}", target.authority);
        let mut paths = vec![suffixed];
        if !resource_path.is_empty() {
            paths.push(WELL_KNOWN_PATH.to_owned());
        }
        let servers: Vec<String> = match &config.authorization_servers {
            Some(servers) => servers.clone(),
            None => plugin.issuers.iter().map(|i| i.issuer.clone()).collect(),
        };
        non_empty_list(&servers, &format!("{path}.authorization_servers"), false)?;
        let mut document = Map::new();
        document.insert("resource".into(), json!(config.resource));
        document.insert("authorization_servers".into(), json!(servers));
        document.insert("bearer_methods_supported".into(), json!(["header"]));
        let scope = match &config.scopes_supported {
            Some(scopes) => {
                non_empty_list(scopes, &format!("{path}.scopes_supported"), true)?;
                document.insert("scopes_supported".into(), json!(scopes));
                Some(scopes.join(" "))
            }
            None => None,
        };
        for (member, value) in [
            ("resource_name", &config.resource_name),
            ("resource_documentation", &config.resource_documentation),
        ] {
            if let Some(value) = value {
                document.insert(member.into(), json!(value));
            }
        }
        Ok(Metadata {
            document: Value::Object(document).to_string(),
            paths,
            url,
            scope,
        })
    }
}

/// Refuses an empty list or entry; with `scope_tokens`, entries must be RFC 6749 §3.3 scope tokens.
fn non_empty_list(items: &[String], path: &str, scope_tokens: bool) -> Result<(), ConfigError> {
    if items.is_empty() {
        return Err(ConfigError::new(path, "must not be empty"));
    }
    for (i, item) in items.iter().enumerate() {
        let bad_scope = scope_tokens
            && item
                .bytes()
                .any(|b| !(0x21..=0x7e).contains(&b) || b == b'"' || b == b'\\');
        if item.is_empty() || bad_scope {
            return Err(ConfigError::new(
                format!("{path}[{i}]"),
                if scope_tokens {
                    "must be a scope token: printable ASCII without spaces, '\"' or '\\' (RFC 6749 §3.3)"
                } else {
                    "must not be empty"
                },
            ));
        }
    }
    Ok(())
}

/// A secret read from the Wasm VM's environment (`vm_config.environment_variables` in Envoy,
/// `vmConfig.env` in Istio) through `env`: the variable `name` must be set, non-empty, and free of
/// control characters (it goes into a header value).
///
/// # Errors
/// A [`ConfigError`] at `path` (the configuration member naming the variable) saying which.
pub fn secret_from_env(
    env: impl Fn(&str) -> Option<String>,
    name: &str,
    path: &str,
) -> Result<String, ConfigError> {
    check_env_name(name, path)?;
    let secret = env(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        ConfigError::new(
            path,
            format!(
                "environment variable {name:?} is not set in the Wasm VM; pass it with vm_config.environment_variables (Istio: vmConfig.env)"
            ),
        )
    })?;
    if secret.bytes().any(|b| b.is_ascii_control()) {
        return Err(ConfigError::new(
            path,
            format!(
                "environment variable {name:?} holds control characters, which a header value cannot carry"
            ),
        ));
    }
    Ok(secret)
}

fn check_credential(config: &UpstreamCredentialConfig, path: &str) -> Result<(), ConfigError> {
    let header = config.header.as_str();
    let is_token = !header.is_empty()
        && header.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&'*+-.^_`|~".contains(&b)
        });
    if !is_token {
        return Err(ConfigError::new(
            format!("{path}.header"),
            format!("{header:?} is not a lowercase HTTP header name (RFC 9110 §5.1 token)"),
        ));
    }
    if header.starts_with(IDENTITY_HEADER_PREFIX)
        || matches!(header, "host" | "content-length" | "accept-encoding")
    {
        return Err(ConfigError::new(
            format!("{path}.header"),
            format!("{header:?} is managed by the filter and cannot carry a credential"),
        ));
    }
    check_env_name(&config.env, &format!("{path}.env"))?;
    if config.prefix.bytes().any(|b| b.is_ascii_control()) {
        return Err(ConfigError::new(
            format!("{path}.prefix"),
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Text safe inside an RFC 9110 §5.6.4 quoted-string: `"` and `\` become `'`, controls are dropped.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '"' | '\\') { '\'' } else { c })
        .collect()
}

fn join_challenge(params: Vec<String>) -> String {
    if params.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer {}", params.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn server(extra: Value) -> Result<ResourceServer, ConfigError> {
        let mut doc = json!({
            "issuers": [
                {"issuer": "https://idp-a.example.com", "audiences": ["x"], "jwks": {"keys": []}},
                {"issuer": "https://idp-b.example.com", "audiences": ["x"], "jwks": {"keys": []}},
            ],
            "policy": {},
        });
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ResourceServer::from_config(&PluginConfig::from_json(doc.to_string().as_bytes())?)
    }

    fn with_metadata() -> ResourceServer {
        server(json!({"resource_metadata": {
            "resource": "https://mcp.example.com/mcp",
            "scopes_supported": ["mcp:tools", "mcp:read"],
            "resource_name": "Orders MCP",
        }}))
        .unwrap()
    }

    fn identity() -> Identity {
        Identity {
            iss: "https://idp-a.example.com".into(),
            sub: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["support".into(), "R&D, Europe".into()],
            scopes: vec!["mcp:tools".into()],
            client_id: None,
            claims: json!({}).into(),
        }
    }

    #[test]
    fn metadata_document_lists_the_issuers_as_authorization_servers() {
        let s = with_metadata();
        let doc: Value = serde_json::from_str(
            s.metadata_document("/.well-known/oauth-protected-resource/mcp")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://idp-a.example.com", "https://idp-b.example.com"])
        );
        assert_eq!(doc["scopes_supported"], json!(["mcp:tools", "mcp:read"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["resource_name"], "Orders MCP");
    }

    #[test]
    fn metadata_is_served_at_the_path_suffixed_and_bare_well_known_paths_only() {
        let s = with_metadata();
        assert!(s
            .metadata_document("/.well-known/oauth-protected-resource/mcp?x=1")
            .is_some());
        assert!(s
            .metadata_document("/.well-known/oauth-protected-resource")
            .is_some());
        assert!(s
            .metadata_document("/.well-known/oauth-protected-resource/other")
            .is_none());
        assert!(server(json!({}))
            .unwrap()
            .metadata_document("/.well-known/oauth-protected-resource")
            .is_none());
    }

    #[test]
    fn well_known_prefix_must_end_at_a_path_segment() {
        assert!(ResourceServer::is_metadata_path(WELL_KNOWN_PATH));
        assert!(ResourceServer::is_metadata_path(
            "/.well-known/oauth-protected-resource/mcp"
        ));
        assert!(ResourceServer::is_metadata_path(
            "/.well-known/oauth-protected-resource?x"
        ));
        assert!(!ResourceServer::is_metadata_path(
            "/.well-known/oauth-protected-resourcex"
        ));
        assert!(!ResourceServer::is_metadata_path("/mcp"));
    }

    #[test]
    fn challenge_names_the_metadata_url_and_scopes() {
        let s = with_metadata();
        assert_eq!(
            s.challenge(&AuthError::Missing),
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", \
             scope=\"mcp:tools mcp:read\""
        );
        let expired = s.challenge(&AuthError::Expired);
        assert!(
            expired
                .ends_with("error=\"invalid_token\", error_description=\"the token has expired\""),
            "{expired}"
        );
    }

    #[test]
    fn challenge_without_metadata_is_plain_rfc_6750() {
        let s = server(json!({})).unwrap();
        assert_eq!(s.challenge(&AuthError::Missing), "Bearer");
        let e = AuthError::AlgorithmNotAllowed("HS\"256".into());
        assert_eq!(
            s.challenge(&e),
            "Bearer error=\"invalid_token\", error_description=\"the token's algorithm 'HS''256' is not allowed for its issuer\""
        );
    }

    #[test]
    fn insufficient_scope_challenge_lists_the_needed_scopes() {
        let c =
            with_metadata().insufficient_scope_challenge(&["mcp:admin".into(), "mcp:write".into()]);
        assert!(c.contains("scope=\"mcp:admin mcp:write\""), "{c}");
        assert!(c.contains("error=\"insufficient_scope\""), "{c}");
        assert!(c.starts_with("Bearer resource_metadata=\""), "{c}");
    }

    #[test]
    fn resource_with_query_or_another_scheme_is_a_config_error() {
        for (resource, needle) in [
            ("https://mcp.example.com/mcp?tenant=1", "query"),
            ("mcp.example.com/mcp", "absolute"),
        ] {
            let e = server(json!({"resource_metadata": {"resource": resource}})).unwrap_err();
            assert_eq!(e.path, "resource_metadata.resource");
            assert!(e.message.contains(needle), "{e}");
        }
        let e = server(
            json!({"resource_metadata": {"resource": "https://m/", "scopes_supported": ["a b"]}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "resource_metadata.scopes_supported[0]");
    }

    #[test]
    fn resource_without_path_is_served_at_the_bare_well_known_path() {
        let s = server(json!({"resource_metadata": {"resource": "http://127.0.0.1:8080", "authorization_servers": ["https://as"]}}))
            .unwrap();
        assert!(s.metadata_document(WELL_KNOWN_PATH).is_some());
        assert_eq!(
            s.challenge(&AuthError::Missing),
            "Bearer resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource\""
        );
    }

    #[test]
    fn identity_headers_are_percent_encoded_and_only_sent_when_enabled() {
        assert!(server(json!({}))
            .unwrap()
            .identity_headers(&identity())
            .is_empty());
        let headers = server(json!({"identity_headers": true}))
            .unwrap()
            .identity_headers(&identity());
        assert_eq!(
            headers,
            [
                ("x-warden-iss", "https://idp-a.example.com".to_owned()),
                ("x-warden-sub", "alice".to_owned()),
                ("x-warden-email", "alice@example.com".to_owned()),
                ("x-warden-groups", "support,R&D%2C Europe".to_owned()),
                ("x-warden-scopes", "mcp:tools".to_owned()),
            ]
        );
        let mut id = identity();
        id.sub = "eve\r\nx-admin: 1 ü".into();
        let headers = server(json!({"identity_headers": true}))
            .unwrap()
            .identity_headers(&id);
        assert_eq!(headers[1].1, "eve%0D%0Ax-admin: 1 %C3%BC");
    }

    #[test]
    fn upstream_credential_is_read_from_the_environment() {
        let s = server(json!({"upstream_credential": {"header": "authorization", "env": "MCP_TOKEN", "prefix": "Bearer "}}))
            .unwrap();
        let credential = s
            .upstream_credential(|name| (name == "MCP_TOKEN").then(|| "s3cret".to_owned()))
            .unwrap()
            .unwrap();
        assert_eq!(
            credential,
            UpstreamCredential {
                header: "authorization".into(),
                value: "Bearer s3cret".into()
            }
        );
        let e = s.upstream_credential(|_| None).unwrap_err();
        assert_eq!(e.path, "upstream_credential.env");
        assert!(
            e.message.contains("MCP_TOKEN") && e.message.contains("environment_variables"),
            "{e}"
        );
        assert_eq!(
            server(json!({})).unwrap().upstream_credential(|_| None),
            Ok(None)
        );
    }

    #[test]
    fn upstream_credential_header_must_be_a_lowercase_token_not_managed_by_the_filter() {
        for header in ["X-Api-Key", "", ":authority", "x-warden-sub", "bad header"] {
            let e =
                server(json!({"upstream_credential": {"header": header, "env": "T"}})).unwrap_err();
            assert_eq!(e.path, "upstream_credential.header", "{header:?}: {e}");
        }
    }
}
