//! The approver's browser, as far as sign-in needs one: `reqwest` without automatic redirects and a
//! cookie jar, walking the provider's login and consent forms (`oidc-provider`'s development
//! interactions) until the provider redirects back to the inbox.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, Response};

/// Most requests one sign-in may take.
const MAX_STEPS: usize = 20;

/// A cookie-keeping client. Cookies are kept by name only (every server here is 127.0.0.1, and
/// browsers do not separate cookies by port either).
#[derive(Debug)]
pub struct Browser {
    http: Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            cookies: BTreeMap::new(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let Some((name, rest)) = value.to_str().ok().and_then(|v| v.split_once('=')) else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default();
            let deleted = rest.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if deleted {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// GET `url` with the jar's cookies.
    ///
    /// # Errors
    /// On transport errors.
    pub async fn get(&mut self, url: &str) -> anyhow::Result<Response> {
        let response = self
            .http
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await?;
        self.keep_cookies(&response);
        Ok(response)
    }

    /// POSTs an `application/x-www-form-urlencoded` `body` to `url` with `Origin: origin`, as a
    /// browser submitting a form of that origin does.
    ///
    /// # Errors
    /// On transport errors.
    pub async fn post_form(
        &mut self,
        url: &str,
        origin: &str,
        body: String,
    ) -> anyhow::Result<Response> {
        let response = self
            .http
            .post(url)
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, origin)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        self.keep_cookies(&response);
        Ok(response)
    }

    /// Starts at `start` (the inbox's sign-in URL) and follows redirects, submitting the provider's
    /// login form as `login` and its consent form, until a page of `back_to` (the inbox's origin)
    /// answers without redirecting; returns that answer.
    ///
    /// # Errors
    /// When a page is neither a redirect nor a known form, or the walk takes too many steps.
    pub async fn sign_in(
        &mut self,
        start: &str,
        back_to: &str,
        login: &str,
    ) -> anyhow::Result<Response> {
        let mut response = self.get(start).await?;
        let mut url = start.to_owned();
        for _ in 0..MAX_STEPS {
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .context("a redirect without Location")?;
                url = absolute(&url, location)?;
                response = self.get(&url).await?;
                continue;
            }
            if url.starts_with(back_to) {
                return Ok(response);
            }
            let status = response.status();
            let page = response.text().await?;
            let action = form_action(&page)
                .with_context(|| format!("{url} answered {status} without a form: {page}"))?;
            let origin = origin_of(&url)?;
            let body = if page.contains("name=\"login\"") {
                format!("prompt=login&login={login}&password=any")
            } else {
                "prompt=consent".to_owned()
            };
            url = absolute(&url, &action)?;
            response = self.post_form(&url, &origin, body).await?;
        }
        bail!("sign-in did not come back to {back_to} within {MAX_STEPS} steps")
    }
}

/// The `action` of the first `<form>` in `page`.
fn form_action(page: &str) -> Option<String> {
    let form = &page[page.find("<form")?..];
    let at = form.find("action=\"")? + "action=\"".len();
    form[at..]
        .split('"')
        .next()
        .map(|a| a.replace("&amp;", "&"))
}

/// `scheme://host:port` of an absolute URL.
fn origin_of(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)?;
    Ok(parsed.origin().ascii_serialization())
}

/// `location` resolved against `base`.
fn absolute(base: &str, location: &str) -> anyhow::Result<String> {
    Ok(reqwest::Url::parse(base)?.join(location)?.to_string())
}
