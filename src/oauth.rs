//! OAuth 2.1 resource server (`MYMCP_OAUTH_ISSUER`): access tokens issued by the
//! organisation's authorization server are accepted next to static tokens, so one identity
//! provider grants and revokes access to every host.
//!
//! The server never talks to the authorization server on a request's behalf except to fetch
//! keys it has not seen (at most every 30 s) and to introspect opaque tokens (cached): a JWT is
//! checked locally against the issuer's published keys. Discovery runs in the background with
//! retries, so a slow or absent authorization server delays OAuth callers only; static tokens
//! keep working throughout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest;

use crate::secret::Secret;
use crate::tokens::Role;

/// Longest access token considered at all. Real JWTs are 1-4 KB; refusing a larger one before
/// any parsing keeps a 1 MB header from costing base64 and JSON work.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SEC: u64 = 60;
/// Refetches of the key set for an unknown `kid` happen at most this often (an attacker can
/// make up `kid`s). The first one after start is not held back by the initial fetch, so a
/// rotation right after a start is picked up at once.
const JWKS_REFETCH: Duration = Duration::from_secs(30);
/// An accepted token (a verified JWT or an active introspection answer) is remembered until its
/// `exp`, and never longer than this: a key the issuer withdraws, or a token it revokes, stops
/// working within this time at most.
const ACCEPTED_TTL: Duration = Duration::from_secs(300);
/// Accepted tokens remembered, at most (only tokens the issuer made get in: refusals are never
/// cached). When full, expired entries go, and if that is not enough, all of them.
const ACCEPTED_CACHE_MAX: usize = 10_000;
/// Introspection calls started per second, at most. Anyone who reaches the port can present an
/// opaque token, and each unknown one would cost the issuer a request: this bounds what mymcp
/// can be made to send it. Beyond it, opaque tokens not seen before get a 401 that says why.
const INTROSPECTIONS_PER_SEC: u32 = 50;
/// Introspection calls in flight at most (each can take up to [`FETCH_TIMEOUT`]).
const INTROSPECTIONS_IN_FLIGHT: usize = 16;
/// A token the issuer called inactive is not asked about again for this long.
const REFUSED_TTL: Duration = Duration::from_secs(60);
/// Largest metadata, key set or introspection answer read from the authorization server.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Each request to the authorization server must finish within this.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The `MYMCP_OAUTH_*` settings.
#[derive(Debug, Clone)]
pub(crate) struct OAuthSettings {
    /// `MYMCP_OAUTH_ISSUER`, without a trailing slash.
    pub(crate) issuer: String,
    /// `MYMCP_OAUTH_AUDIENCE`: what `aud` must contain (the resource identifier).
    pub(crate) audience: String,
    /// `MYMCP_OAUTH_SCOPE_RO` (default `mymcp:ro`).
    pub(crate) scope_ro: String,
    /// `MYMCP_OAUTH_SCOPE_RW` (default `mymcp:rw`).
    pub(crate) scope_rw: String,
    /// `MYMCP_OAUTH_CLIENT_ID` + `MYMCP_OAUTH_CLIENT_SECRET`: this server's credentials at the
    /// introspection endpoint; without them opaque tokens are refused.
    pub(crate) client: Option<(String, Secret)>,
}

/// Who an accepted access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthPrincipal {
    /// `sub`.
    pub(crate) sub: String,
    /// `client_id` (or `azp`), when the token names the client it was issued to.
    pub(crate) client_id: Option<String>,
    /// From the token's scopes.
    pub(crate) role: Role,
}

/// Why an access token was refused. The message is for the client (`error_description`) and
/// the log; it never contains the token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthError {
    /// Discovery or the first key fetch has not succeeded yet.
    #[error("the authorization server's keys are not loaded yet ({0}); try again shortly")]
    NotReady(String),
    /// Not a token we can check at all.
    #[error("{0}")]
    Malformed(String),
    /// A well-formed token that failed a check (signature, issuer, audience, time, key).
    #[error("{0}")]
    Invalid(String),
    /// Valid, but grants neither the ro nor the rw scope.
    #[error("the token grants neither {ro} nor {rw}")]
    InsufficientScope {
        /// The ro scope.
        ro: String,
        /// The rw scope.
        rw: String,
    },
    /// Introspection failed (network, status): the token is refused, not cached.
    #[error("token introspection failed: {0}")]
    Unavailable(String),
}

impl OAuthError {
    /// A short label for metrics and logs.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            OAuthError::NotReady(_) => "not_ready",
            OAuthError::Malformed(_) => "malformed",
            OAuthError::Invalid(_) => "invalid",
            OAuthError::InsufficientScope { .. } => "insufficient_scope",
            OAuthError::Unavailable(_) => "introspection_failed",
        }
    }
}

/// What discovery found.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
}

/// One usable verification key from the JWKS.
struct Key {
    kid: Option<String>,
    /// The algorithms this key may verify (its `alg` if published, else its family's).
    algs: Vec<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct Loaded {
    metadata: Option<Metadata>,
    keys: Vec<Key>,
    /// When the key set was last refetched for an unknown `kid` (or tried).
    refetched: Option<Instant>,
    /// The last discovery or key fetch error, for `/health`, `doctor` and `NotReady`.
    last_error: Option<String>,
}

/// The resource server: settings, what discovery loaded, the introspection cache.
pub(crate) struct OAuth {
    settings: OAuthSettings,
    http: reqwest::Client,
    loaded: RwLock<Loaded>,
    /// Serialises key refetches, so a burst of unknown `kid`s makes one request.
    refetch: tokio::sync::Mutex<()>,
    /// Accepted tokens by SHA-256 (the token itself is not kept), until when.
    accepted: Mutex<HashMap<[u8; 32], (OAuthPrincipal, Instant)>>,
    /// Opaque tokens the issuer called inactive, by SHA-256, until when.
    refused: Mutex<HashMap<[u8; 32], Instant>>,
    /// Introspection calls in flight.
    introspecting: tokio::sync::Semaphore,
    /// Introspection calls started in the current second: (the second's start, count).
    introspection_rate: Mutex<(Instant, u32)>,
}

/// `/health` and `doctor`'s view.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OAuthStatus {
    /// The configured issuer.
    pub(crate) issuer: String,
    /// Metadata and at least one key are loaded.
    pub(crate) ready: bool,
    /// Usable keys.
    pub(crate) keys: usize,
    /// Whether opaque tokens can be introspected.
    pub(crate) introspection: bool,
    /// The last error from the authorization server, if any.
    pub(crate) last_error: Option<String>,
}

/// Claims read from a JWT or an introspection answer (everything else is ignored).
#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<u64>,
    client_id: Option<String>,
    azp: Option<String>,
    scope: Option<serde_json::Value>,
    scp: Option<serde_json::Value>,
}

impl OAuth {
    /// A resource server for `settings`; nothing is fetched until [`OAuth::spawn_discovery`].
    pub(crate) fn new(settings: OAuthSettings) -> Result<Arc<OAuth>, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            // Metadata names its endpoints; a redirect to elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mymcp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(OAuth {
            settings,
            http,
            loaded: RwLock::new(Loaded::default()),
            refetch: tokio::sync::Mutex::new(()),
            accepted: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            introspecting: tokio::sync::Semaphore::new(INTROSPECTIONS_IN_FLIGHT),
            introspection_rate: Mutex::new((Instant::now(), 0)),
        }))
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// Discover the authorization server and load its keys in the background, retrying
    /// (1 s, doubling to 60 s) until both succeed.
    pub(crate) fn spawn_discovery(self: &Arc<Self>) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            loop {
                match me.discover().await {
                    Ok(n) => {
                        tracing::info!(issuer = %me.settings.issuer, keys = n, "OAuth: authorization server metadata and keys loaded");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(issuer = %me.settings.issuer, error = %e, retry_in_s = wait.as_secs(), "OAuth: discovery failed; OAuth tokens are refused until it succeeds");
                        me.set_error(e);
                    }
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
    }

    fn set_error(&self, e: String) {
        if let Ok(mut l) = self.loaded.write() {
            l.last_error = Some(e);
        }
    }

    /// One discovery attempt: metadata (RFC 8414, else OpenID Connect discovery), then keys.
    async fn discover(&self) -> Result<usize, String> {
        let issuer = &self.settings.issuer;
        let mut last = String::new();
        let mut found = None;
        for well_known in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            let url = format!("{issuer}{well_known}");
            match self.get_json::<Metadata>(&url).await {
                Ok(m) => {
                    found = Some(m);
                    break;
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        let Some(m) = found else { return Err(last) };
        if m.issuer.trim_end_matches('/') != issuer {
            return Err(format!(
                "the metadata names issuer {:?}, not the configured {issuer:?} (RFC 8414 §3.3: refused)",
                m.issuer
            ));
        }
        if m.jwks_uri.is_none() && m.introspection_endpoint.is_none() {
            return Err("the metadata has neither jwks_uri nor introspection_endpoint".into());
        }
        if let Ok(mut l) = self.loaded.write() {
            l.metadata = Some(m);
        }
        self.fetch_keys().await
    }

    /// Fetch the key set named by the metadata and replace the keys held. A failure keeps the
    /// keys held before.
    async fn fetch_keys(&self) -> Result<usize, String> {
        let uri = self
            .loaded
            .read()
            .ok()
            .and_then(|l| l.metadata.as_ref().and_then(|m| m.jwks_uri.clone()));
        let Some(uri) = uri else {
            // Introspection only: nothing to fetch, ready as it is.
            if let Ok(mut l) = self.loaded.write() {
                l.last_error = None;
            }
            return Ok(0);
        };
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = self
            .get_json(&uri)
            .await
            .map_err(|e| format!("{uri}: {e}"))?;
        let keys: Vec<Key> = set.keys.into_iter().filter_map(usable_key).collect();
        if keys.is_empty() {
            return Err(format!(
                "{uri}: no usable signing key (RS*, PS*, ES256/384, EdDSA)"
            ));
        }
        let n = keys.len();
        if let Ok(mut l) = self.loaded.write() {
            l.keys = keys;
            l.last_error = None;
        }
        Ok(n)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let resp = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body = read_capped(resp).await?;
        serde_json::from_slice(&body).map_err(|e| format!("not the JSON expected: {e}"))
    }

    /// `/health` and `doctor`'s view.
    pub(crate) fn status(&self) -> OAuthStatus {
        let (ready, keys, introspection, last_error) = match self.loaded.read() {
            Ok(l) => {
                let intro = l
                    .metadata
                    .as_ref()
                    .is_some_and(|m| m.introspection_endpoint.is_some())
                    && self.settings.client.is_some();
                let ready = l.metadata.is_some() && (!l.keys.is_empty() || intro);
                (ready, l.keys.len(), intro, l.last_error.clone())
            }
            Err(_) => (false, 0, false, Some("state lock poisoned".into())),
        };
        OAuthStatus {
            issuer: self.settings.issuer.clone(),
            ready,
            keys,
            introspection,
            last_error,
        }
    }

    /// Check an access token: a JWT against the issuer's keys, anything else by introspection
    /// when this server has credentials for it.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<OAuthPrincipal, OAuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OAuthError::Malformed(format!(
                "the token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        // A token seen and accepted before costs a hash and a lookup, not a signature check
        // or a round trip to the issuer.
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Ok(mut cache) = self.accepted.lock() {
            match cache.get(&digest) {
                Some((p, until)) if *until > Instant::now() => return Ok(p.clone()),
                Some(_) => {
                    cache.remove(&digest);
                }
                None => {}
            }
        }
        let status = self.status();
        if !status.ready {
            return Err(OAuthError::NotReady(
                status
                    .last_error
                    .unwrap_or_else(|| "discovery in progress".into()),
            ));
        }
        let claims = if token.bytes().filter(|b| *b == b'.').count() == 2 {
            self.check_jwt(token).await?
        } else if status.introspection {
            self.introspect_limited(token, &digest).await?
        } else {
            return Err(OAuthError::Malformed(
                "not a JWT, and token introspection is not configured".into(),
            ));
        };
        let exp = claims.exp;
        let p = self.principal(claims)?;
        let ttl = match exp {
            Some(e) => Duration::from_secs(e.saturating_sub(unix_now())).min(ACCEPTED_TTL),
            None => ACCEPTED_TTL,
        };
        if let Ok(mut cache) = self.accepted.lock() {
            make_room(&mut cache, |(_, until)| *until);
            cache.insert(digest, (p.clone(), Instant::now() + ttl));
        }
        Ok(p)
    }

    async fn check_jwt(&self, token: &str) -> Result<Claims, OAuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| OAuthError::Malformed(format!("not a JWT: {e}")))?;
        let alg = header.alg;
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            // A symmetric algorithm would make the public key the secret.
            return Err(OAuthError::Invalid(format!(
                "algorithm {alg:?} is not accepted (asymmetric signatures only)"
            )));
        }
        let kid = header.kid;
        let claims = match self.verify_with_held(token, alg, kid.as_deref()) {
            Some(r) => r?,
            None => {
                // No key for this kid: the issuer may have rotated. Refetch, rate-limited.
                self.refetch_keys_if_due().await;
                self.verify_with_held(token, alg, kid.as_deref())
                    .ok_or_else(|| {
                        OAuthError::Invalid(match &kid {
                            Some(k) => format!("no key with kid {k:?} in the issuer's key set"),
                            None => format!("no key for algorithm {alg:?} in the issuer's key set"),
                        })
                    })??
            }
        };
        Ok(claims)
    }

    /// Verify with the keys held: `None` when no key fits the `kid` and algorithm.
    fn verify_with_held(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Option<Result<Claims, OAuthError>> {
        let loaded = self.loaded.read().ok()?;
        let candidates: Vec<&Key> = loaded
            .keys
            .iter()
            .filter(|k| k.algs.contains(&alg))
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SEC;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut last = None;
        for k in candidates {
            match jsonwebtoken::decode::<Claims>(token, &k.key, &validation) {
                Ok(data) => return Some(Ok(data.claims)),
                Err(e) => last = Some(e),
            }
        }
        let e = last?;
        Some(Err(OAuthError::Invalid(jwt_error(&e, &self.settings))))
    }

    async fn refetch_keys_if_due(&self) {
        let _one = self.refetch.lock().await;
        let due = match self.loaded.write() {
            Ok(mut l) if l.refetched.is_none_or(|t| t.elapsed() >= JWKS_REFETCH) => {
                l.refetched = Some(Instant::now());
                true
            }
            _ => false,
        };
        if !due {
            return;
        }
        match self.fetch_keys().await {
            Ok(n) => tracing::info!(keys = n, "OAuth: key set refetched for an unknown key id"),
            Err(e) => {
                tracing::warn!(error = %e, "OAuth: key set refetch failed; keeping the keys held");
            }
        }
    }

    /// [`OAuth::introspect`] within the limits: a token the issuer refused a minute ago is
    /// refused again without asking, and at most [`INTROSPECTIONS_PER_SEC`] calls start per
    /// second, [`INTROSPECTIONS_IN_FLIGHT`] at a time.
    async fn introspect_limited(
        &self,
        token: &str,
        digest: &[u8; 32],
    ) -> Result<Claims, OAuthError> {
        if let Ok(mut refused) = self.refused.lock() {
            match refused.get(digest) {
                Some(until) if *until > Instant::now() => {
                    return Err(OAuthError::Invalid("the token is not active".into()));
                }
                Some(_) => {
                    refused.remove(digest);
                }
                None => {}
            }
        }
        let busy = || {
            OAuthError::Unavailable(
                "too many token introspections right now; try again in a second".into(),
            )
        };
        let Ok(_permit) = self.introspecting.try_acquire() else {
            return Err(busy());
        };
        {
            let mut rate = self.introspection_rate.lock().map_err(|_| busy())?;
            if rate.0.elapsed() >= Duration::from_secs(1) {
                *rate = (Instant::now(), 0);
            }
            if rate.1 >= INTROSPECTIONS_PER_SEC {
                return Err(busy());
            }
            rate.1 += 1;
        }
        let result = self.introspect(token).await;
        if matches!(result, Err(OAuthError::Invalid(_)))
            && let Ok(mut refused) = self.refused.lock()
        {
            make_room(&mut refused, |until| *until);
            refused.insert(*digest, Instant::now() + REFUSED_TTL);
        }
        result
    }

    /// RFC 7662: ask the authorization server about an opaque token.
    async fn introspect(&self, token: &str) -> Result<Claims, OAuthError> {
        let endpoint = self
            .loaded
            .read()
            .ok()
            .and_then(|l| l.metadata.as_ref()?.introspection_endpoint.clone())
            .ok_or_else(|| OAuthError::Unavailable("no introspection endpoint".into()))?;
        let Some((id, secret)) = &self.settings.client else {
            return Err(OAuthError::Unavailable(
                "MYMCP_OAUTH_CLIENT_ID/SECRET are not set".into(),
            ));
        };
        let resp = self
            .http
            .post(&endpoint)
            .basic_auth(id, Some(secret.expose()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(OAuthError::Unavailable(format!("HTTP {}", resp.status())));
        }
        let body = read_capped(resp).await.map_err(OAuthError::Unavailable)?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| OAuthError::Unavailable(format!("not JSON: {e}")))?;
        if v.get("active").and_then(serde_json::Value::as_bool) != Some(true) {
            return Err(OAuthError::Invalid("the token is not active".into()));
        }
        let now = unix_now();
        let exp = v.get("exp").and_then(serde_json::Value::as_u64);
        if exp.is_some_and(|e| e + LEEWAY_SEC < now) {
            return Err(OAuthError::Invalid("the token has expired".into()));
        }
        if let Some(iss) = v.get("iss").and_then(serde_json::Value::as_str)
            && iss.trim_end_matches('/') != self.settings.issuer
        {
            return Err(OAuthError::Invalid(format!("issued by {iss:?}")));
        }
        // An introspected token must be meant for us too, when the server says whom it is for.
        if let Some(aud) = v.get("aud")
            && !audience_contains(aud, &self.settings.audience)
        {
            return Err(OAuthError::Invalid(format!(
                "the token's audience does not include {:?}",
                self.settings.audience
            )));
        }
        serde_json::from_value(v)
            .map_err(|e| OAuthError::Unavailable(format!("unexpected answer: {e}")))
    }

    fn principal(&self, c: Claims) -> Result<OAuthPrincipal, OAuthError> {
        // A client-credentials token acts for the client itself: some servers put that in
        // `sub` (RFC 9068), others leave `sub` out of introspection answers.
        let sub = c
            .sub
            .filter(|s| !s.is_empty())
            .or_else(|| c.client_id.clone().filter(|s| !s.is_empty()))
            .ok_or_else(|| OAuthError::Invalid("the token has no subject (sub)".into()))?;
        let scopes = scopes_of(c.scope.as_ref().or(c.scp.as_ref()));
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let role = if has(&self.settings.scope_rw) {
            Role::Rw
        } else if has(&self.settings.scope_ro) {
            Role::Ro
        } else {
            return Err(OAuthError::InsufficientScope {
                ro: self.settings.scope_ro.clone(),
                rw: self.settings.scope_rw.clone(),
            });
        };
        Ok(OAuthPrincipal {
            sub: printable(&sub),
            client_id: c.client_id.or(c.azp).map(|c| printable(&c)),
            role,
        })
    }

    /// RFC 9728 protected resource metadata.
    pub(crate) fn resource_metadata(&self) -> serde_json::Value {
        let s = &self.settings;
        serde_json::json!({
            "resource": s.audience,
            "authorization_servers": [s.issuer],
            "scopes_supported": [s.scope_ro, s.scope_rw],
            "bearer_methods_supported": ["header"],
            "resource_name": "mymcp",
        })
    }
}

/// Keep a token cache within [`ACCEPTED_CACHE_MAX`] before an insert: drop the expired
/// entries (`until` gives an entry's end), and everything if that is not enough.
fn make_room<V>(cache: &mut HashMap<[u8; 32], V>, until: impl Fn(&V) -> Instant) {
    if cache.len() >= ACCEPTED_CACHE_MAX {
        let now = Instant::now();
        cache.retain(|_, v| until(v) > now);
        if cache.len() >= ACCEPTED_CACHE_MAX {
            cache.clear();
        }
    }
}

/// A subject or client id goes into audit lines, logs and metrics: keep it one printable
/// line of bounded length.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(256).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn audience_contains(aud: &serde_json::Value, want: &str) -> bool {
    match aud {
        serde_json::Value::String(s) => s == want,
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str() == Some(want)),
        _ => false,
    }
}

/// `scope` is a space-separated string (RFC 8693 / 9068); `scp` is sometimes an array.
fn scopes_of(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// A key from the JWKS if it is a public signing key of a kind we verify; symmetric keys
/// (`oct`) and encryption keys are never used.
fn usable_key(v: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(v).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return None,
        },
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let algs = match jwk.common.key_algorithm {
        Some(a) => {
            let a = a.to_string().parse::<Algorithm>().ok()?;
            if !family.contains(&a) {
                return None;
            }
            vec![a]
        }
        None => family,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id,
        algs,
        key,
    })
}

/// The error a client is told (and the log shows) for a JWT that failed a check.
fn jwt_error(e: &jsonwebtoken::errors::Error, s: &OAuthSettings) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => "bad signature".into(),
        K::ExpiredSignature => "the token has expired".into(),
        K::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        K::InvalidIssuer => format!("the token was not issued by {}", s.issuer),
        K::InvalidAudience => format!("the token's audience does not include {}", s.audience),
        K::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
        K::InvalidAlgorithm => "the key does not fit the token's algorithm".into(),
        _ => format!("the token could not be read: {e}"),
    }
}

/// Read a response body of at most [`MAX_RESPONSE_BYTES`].
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("answer larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Is `host` (from a URL) a loopback address, where `http://` issuers are allowed?
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_issuers_are_recognised() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost/realms/x",
            "http://[::1]:8080",
            "http://127.3.4.5",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for no in [
            "http://example.com",
            "http://127.0.0.1.evil.com",
            "https://127.0.0.1",
            "http://localhost.evil.com:80",
            "http://10.0.0.1",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }

    #[test]
    fn scopes_come_from_a_string_or_an_array() {
        let s = serde_json::json!("openid mymcp:ro  other");
        assert_eq!(scopes_of(Some(&s)), ["openid", "mymcp:ro", "other"]);
        let a = serde_json::json!(["mymcp:rw", 3]);
        assert_eq!(scopes_of(Some(&a)), ["mymcp:rw"]);
        assert!(scopes_of(None).is_empty());
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_used() {
        let oct = serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"});
        assert!(usable_key(oct).is_none());
        let ed = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "use": "enc",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert!(usable_key(ed).is_none());
        let ed = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "e",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let k = usable_key(ed).unwrap();
        assert_eq!(k.algs, [Algorithm::EdDSA]);
        assert_eq!(k.kid.as_deref(), Some("e"));
        // A published alg that contradicts the key type is refused, not trusted.
        let bad = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "RS256",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert!(usable_key(bad).is_none());
    }

    #[test]
    fn subjects_are_kept_printable_and_bounded() {
        assert_eq!(printable("a\nb\u{7}c"), "abc");
        assert_eq!(printable(&"x".repeat(1000)).len(), 256);
    }
}
