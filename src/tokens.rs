//! Token store: client tokens with roles, kept as SHA-256 hashes.
//!
//! The file is shared by the running server and the `mymcp token ...` CLI. Every change is a
//! read-modify-write under an exclusive advisory lock on `<file>.lock`, written atomically
//! (temp file, fsync, rename, mode 0600). The server notices a changed file (new inode, size
//! or mtime) within a second and reloads it, so CLI changes apply without a restart and are
//! never lost or resurrected (a server that only wrote its in-memory set back at exit
//! would undo every CLI change made while it ran). `last_used` lives in memory and is merged into the
//! file lazily, only for entries that still exist.
//!
//! The reference's `tokens.json` (raw tokens as keys) loads unchanged; it is rewritten in the
//! hashed format on the first change.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::now_rfc3339;
use crate::error::{PathIo, io_at};
use crate::fsutil::{atomic_write, create_private_dir};

/// A client token's role. `Ro < Rw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Read-only tools.
    Ro,
    /// Every tool.
    Rw,
}

impl Role {
    /// Parse `ro` / `rw` exactly (the reference is case-sensitive here).
    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s {
            "ro" => Some(Role::Ro),
            "rw" => Some(Role::Rw),
            _ => None,
        }
    }

    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Ro => "ro",
            Role::Rw => "rw",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token store failures.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// The file could not be read, locked or written.
    #[error("token file {0}")]
    Io(#[from] PathIo),
    /// The file is not valid JSON of the expected shape.
    #[error("token file {path}: cannot parse: {reason}")]
    Parse {
        /// The token file.
        path: PathBuf,
        /// Parser message.
        reason: String,
    },
    /// A role other than `ro` / `rw`.
    #[error("Invalid role: \"{0}\". Must be 'ro' or 'rw'.")]
    InvalidRole(String),
    /// No token with that value or id.
    #[error("Token not found")]
    NotFound,
    /// Names identify tokens in audit lines and logs, so two tokens may not share one.
    #[error(
        "a token named {name:?} already exists (id {id}); revoke it first or choose another name"
    )]
    NameTaken {
        /// The name asked for.
        name: String,
        /// The existing token's id.
        id: String,
    },
}

/// SHA-256 of a token value.
pub(crate) fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The short public id of a token: the first 12 hex digits of its hash. Safe to show and log.
pub(crate) fn token_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..6])
}

/// A fresh token: `tok_` + 32 lowercase hex digits from the OS-seeded CSPRNG.
pub(crate) fn generate_token() -> String {
    let bytes: [u8; 16] = rand::random();
    format!("tok_{}", hex::encode(bytes))
}

/// One entry of the token file, as stored on disk (new format).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StoredToken {
    /// Human name.
    #[serde(default)]
    pub(crate) name: String,
    /// Hex SHA-256 of the token value.
    pub(crate) sha256: String,
    /// `ro` / `rw`; anything else (or missing) is kept on disk but never authenticates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    /// Disabled tokens never authenticate.
    #[serde(default)]
    pub(crate) enabled: bool,
    /// Creation time (RFC 3339) or `ephemeral`.
    #[serde(default)]
    pub(crate) created_at: String,
    /// Last successful use, persisted lazily.
    #[serde(default)]
    pub(crate) last_used: Option<String>,
}

impl StoredToken {
    /// The role, when it is a valid one.
    pub(crate) fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }
}

/// The whole token file in memory, keyed by token id.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TokenSet {
    /// Entries keyed by [`token_id`].
    pub(crate) tokens: BTreeMap<String, StoredToken>,
    /// True when the file on disk is in the reference's plaintext format and must be rewritten.
    pub(crate) legacy: bool,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    tokens: &'a BTreeMap<String, StoredToken>,
}

impl TokenSet {
    /// Parse either the reference's format (raw token keys, `admin_token`) or ours.
    pub(crate) fn parse(text: &str) -> Result<TokenSet, String> {
        if text.trim().is_empty() {
            return Ok(TokenSet::default());
        }
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let obj = v.as_object().ok_or("top level is not an object")?;
        let mut set = TokenSet::default();
        let Some(tokens) = obj.get("tokens") else {
            return Ok(set);
        };
        let tokens = tokens.as_object().ok_or("\"tokens\" is not an object")?;
        for (key, entry) in tokens {
            let e = entry
                .as_object()
                .ok_or_else(|| format!("entry {} is not an object", short(key)))?;
            let str_of = |k: &str| e.get(k).and_then(|v| v.as_str()).map(String::from);
            if let Some(h) = str_of("sha256") {
                let valid = h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
                if !valid {
                    return Err(format!("entry {key}: sha256 is not 64 hex digits"));
                }
                let mut stored: StoredToken = serde_json::from_value(entry.clone())
                    .map_err(|e| format!("entry {key}: {e}"))?;
                stored.sha256 = h.to_ascii_lowercase();
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&stored.sha256, &mut hash).map_err(|e| e.to_string())?;
                set.tokens.insert(token_id(&hash), stored);
            } else {
                // Reference format: the key is the token itself.
                set.legacy = true;
                let hash = hash_token(key);
                let stored = StoredToken {
                    name: str_of("name").unwrap_or_default(),
                    sha256: hex::encode(hash),
                    role: str_of("role"),
                    enabled: e.get("enabled").and_then(|v| v.as_bool()).unwrap_or(false),
                    created_at: str_of("created_at").unwrap_or_default(),
                    last_used: str_of("last_used"),
                };
                set.tokens.insert(token_id(&hash), stored);
            }
        }
        if obj.contains_key("admin_token") {
            // The reference copied the admin token into this file in plaintext, where anyone
            // who can read the file gets admin; drop it on rewrite.
            set.legacy = true;
        }
        Ok(set)
    }

    /// Serialise in our format (hashes only, no admin token), 2-space indented, keys sorted.
    pub(crate) fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&FileOut {
            version: 2,
            tokens: &self.tokens,
        })
        .unwrap_or_else(|_| "{\"version\":2,\"tokens\":{}}".to_string());
        s.push('\n');
        s
    }

    /// Find an entry by token value or by id. Returns its id.
    pub(crate) fn find(&self, token_or_id: &str) -> Option<String> {
        let h = hash_token(token_or_id);
        let id = token_id(&h);
        if let Some(e) = self.tokens.get(&id) {
            let mut stored = [0u8; 32];
            if hex::decode_to_slice(&e.sha256, &mut stored).is_ok() && bool::from(stored.ct_eq(&h))
            {
                return Some(id);
            }
        }
        let want = token_or_id.to_ascii_lowercase();
        self.tokens.contains_key(&want).then_some(want)
    }

    /// Add a new token; returns `(value, id)`.
    pub(crate) fn add(&mut self, name: &str, role: Role) -> Result<(String, String), TokenError> {
        if let Some(id) = self.id_of_name(name) {
            return Err(TokenError::NameTaken {
                name: name.to_string(),
                id: id.to_string(),
            });
        }
        loop {
            let token = generate_token();
            let h = hash_token(&token);
            let id = token_id(&h);
            if self.tokens.contains_key(&id) {
                continue;
            }
            self.tokens.insert(
                id.clone(),
                StoredToken {
                    name: name.to_string(),
                    sha256: hex::encode(h),
                    role: Some(role.as_str().to_string()),
                    enabled: true,
                    created_at: now_rfc3339(),
                    last_used: None,
                },
            );
            return Ok((token, id));
        }
    }

    /// The id of the token with this name, if there is one.
    pub(crate) fn id_of_name(&self, name: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(_, t)| t.name == name)
            .map(|(id, _)| id.as_str())
    }
}

fn short(key: &str) -> String {
    key.chars().take(8).collect::<String>() + "…"
}

/// The on-disk token file with its lock.
#[derive(Debug, Clone)]
pub(crate) struct TokenFile {
    path: PathBuf,
}

/// Held while the lock file is locked; unlocks on drop (closing the descriptor).
pub(crate) struct FileLock {
    _file: File,
}

/// Identity of the file's current version: changes on every atomic rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl TokenFile {
    /// A token file at `path` (not touched until used).
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> TokenError {
        TokenError::Io(io_at(&self.path)(source))
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Take the advisory lock (exclusive for writers, shared for readers). Blocks.
    pub(crate) fn lock(&self, exclusive: bool) -> Result<FileLock, TokenError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| self.io(e))?;
        }
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(self.lock_path())
            .map_err(|e| self.io(e))?;
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        crate::fsutil::match_owner(&f, &self.path);
        rustix::fs::flock(&f, op).map_err(|e| self.io(e.into()))?;
        Ok(FileLock { _file: f })
    }

    /// The file's current stamp, or `None` when it does not exist.
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        })
    }

    /// Read the file (a missing file is an empty set). Call with the lock held.
    pub(crate) fn load(&self) -> Result<TokenSet, TokenError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => TokenSet::parse(&text).map_err(|reason| TokenError::Parse {
                path: self.path.clone(),
                reason,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenSet::default()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Write atomically: temp file beside it, fsync, rename, fsync the directory. Mode 0600.
    pub(crate) fn save(&self, set: &TokenSet) -> Result<(), TokenError> {
        atomic_write(&self.path, set.to_json().as_bytes(), 0o600).map_err(|e| self.io(e))
    }

    /// Locked read-modify-write. `f` returns a value and whether anything changed.
    pub(crate) fn modify<R>(
        &self,
        f: impl FnOnce(&mut TokenSet) -> Result<(R, bool), TokenError>,
    ) -> Result<(R, TokenSet), TokenError> {
        let _lock = self.lock(true)?;
        let mut set = self.load()?;
        let (r, changed) = f(&mut set)?;
        if changed || set.legacy {
            set.legacy = false;
            self.save(&set)?;
        }
        Ok((r, set))
    }
}

/// Who is calling: resolved from a valid client token.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// Token id (public).
    pub(crate) id: String,
    /// Token name.
    pub(crate) name: String,
    /// Role.
    pub(crate) role: Role,
}

/// The server's view of the tokens: a snapshot of the file plus in-memory `last_used`.
pub(crate) struct TokenStore {
    file: Option<TokenFile>,
    set: RwLock<TokenSet>,
    stamp: Mutex<Option<Stamp>>,
    last_used: Mutex<HashMap<String, String>>,
    admin: RwLock<Option<[u8; 32]>>,
    metrics: RwLock<Option<[u8; 32]>>,
}

impl TokenStore {
    /// Open the store backed by `file`, or an in-memory store when `file` is `None`
    /// (temp-token mode: nothing ever touches the disk).
    pub(crate) fn open(file: Option<TokenFile>) -> Result<TokenStore, TokenError> {
        let set = match &file {
            Some(f) => {
                let _lock = f.lock(false)?;
                f.load()?
            }
            None => TokenSet::default(),
        };
        let stamp = file.as_ref().and_then(TokenFile::stamp);
        for (id, t) in &set.tokens {
            if t.role().is_none() {
                tracing::warn!(
                    token_id = %id, name = %t.name, role = ?t.role,
                    "token has a missing or unknown role; it will be refused"
                );
            }
        }
        Ok(TokenStore {
            file,
            set: RwLock::new(set),
            stamp: Mutex::new(stamp),
            last_used: Mutex::new(HashMap::new()),
            admin: RwLock::new(None),
            metrics: RwLock::new(None),
        })
    }

    /// Set (or clear, with an empty string) the admin token.
    pub(crate) fn set_admin_token(&self, token: &str) {
        if let Ok(mut g) = self.admin.write() {
            *g = (!token.is_empty()).then(|| hash_token(token));
        }
    }

    /// Set (or clear) the metrics token.
    pub(crate) fn set_metrics_token(&self, token: &str) {
        if let Ok(mut g) = self.metrics.write() {
            *g = (!token.is_empty()).then(|| hash_token(token));
        }
    }

    /// Is a metrics token configured?
    pub(crate) fn metrics_enabled(&self) -> bool {
        self.metrics.read().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Constant-time check of the admin token.
    pub(crate) fn is_admin(&self, token: &str) -> bool {
        ct_match(&self.admin, token)
    }

    /// Constant-time check of the metrics token.
    pub(crate) fn is_metrics(&self, token: &str) -> bool {
        ct_match(&self.metrics, token)
    }

    /// Resolve a client token. Disabled tokens and tokens without a valid role are refused.
    pub(crate) fn authenticate(&self, token: &str) -> Option<Principal> {
        let h = hash_token(token);
        let id = token_id(&h);
        let principal = {
            let set = self.set.read().ok()?;
            let e = set.tokens.get(&id)?;
            let mut stored = [0u8; 32];
            hex::decode_to_slice(&e.sha256, &mut stored).ok()?;
            if !bool::from(stored.ct_eq(&h)) || !e.enabled {
                return None;
            }
            Principal {
                id: id.clone(),
                name: e.name.clone(),
                role: e.role()?,
            }
        };
        if let Ok(mut lu) = self.last_used.lock() {
            lu.insert(id, now_rfc3339());
        }
        Some(principal)
    }

    /// Is the token with this id present, enabled and of a valid role right now?
    pub(crate) fn is_active(&self, id: &str) -> bool {
        self.set.read().is_ok_and(|set| {
            set.tokens
                .get(id)
                .is_some_and(|e| e.enabled && e.role().is_some())
        })
    }

    /// A copy of the current entries with in-memory `last_used` applied.
    pub(crate) fn list(&self) -> BTreeMap<String, StoredToken> {
        let mut tokens = self
            .set
            .read()
            .map(|s| s.tokens.clone())
            .unwrap_or_default();
        if let Ok(lu) = self.last_used.lock() {
            for (id, t) in lu.iter() {
                if let Some(e) = tokens.get_mut(id) {
                    e.last_used = Some(t.clone());
                }
            }
        }
        tokens
    }

    /// Create a token, persisting it first when file-backed. Returns `(value, id)`.
    pub(crate) fn create(&self, name: &str, role: Role) -> Result<(String, String), TokenError> {
        match &self.file {
            Some(f) => {
                let (out, set) = f.modify(|s| Ok((s.add(name, role)?, true)))?;
                self.install(set, f.stamp());
                Ok(out)
            }
            None => {
                let mut set = self.set.write().map_err(|_| poisoned())?;
                set.add(name, role)
            }
        }
    }

    /// Add an in-memory-only token with a known value (temp-token mode).
    pub(crate) fn insert_ephemeral(&self, token: &str, name: &str, role: Role) {
        let h = hash_token(token);
        if let Ok(mut set) = self.set.write() {
            set.tokens.insert(
                token_id(&h),
                StoredToken {
                    name: name.to_string(),
                    sha256: hex::encode(h),
                    role: Some(role.as_str().to_string()),
                    enabled: true,
                    created_at: "ephemeral".to_string(),
                    last_used: None,
                },
            );
        }
    }

    /// Revoke by token value or id; returns the id.
    pub(crate) fn revoke(&self, token_or_id: &str) -> Result<String, TokenError> {
        match &self.file {
            Some(f) => {
                let (id, set) = f.modify(|s| {
                    let id = s.find(token_or_id).ok_or(TokenError::NotFound)?;
                    s.tokens.remove(&id);
                    Ok((id, true))
                })?;
                self.install(set, f.stamp());
                if let Ok(mut lu) = self.last_used.lock() {
                    lu.remove(&id);
                }
                Ok(id)
            }
            None => {
                let mut set = self.set.write().map_err(|_| poisoned())?;
                let id = set.find(token_or_id).ok_or(TokenError::NotFound)?;
                set.tokens.remove(&id);
                Ok(id)
            }
        }
    }

    fn install(&self, set: TokenSet, stamp: Option<Stamp>) {
        if let Ok(mut g) = self.set.write() {
            *g = set;
        }
        if let Ok(mut g) = self.stamp.lock() {
            *g = stamp;
        }
    }

    /// Reload the file if it changed since the last look: `Some(true)` when it reloaded,
    /// `Some(false)` when it changed but could not be read or parsed (the previous tokens are
    /// kept, and the error logged with what to do), `None` when nothing changed.
    pub(crate) fn reload_if_changed(&self) -> Option<bool> {
        let Some(f) = &self.file else { return None };
        let now = f.stamp();
        let prev = self.stamp.lock().map(|g| *g).unwrap_or(None);
        if now == prev {
            return None;
        }
        let loaded = f.lock(false).and_then(|_lock| f.load());
        match loaded {
            Ok(set) => {
                let n = set.tokens.len();
                self.install(set, now);
                tracing::info!(path = %f.path().display(), tokens = n, "token file reloaded");
                Some(true)
            }
            Err(e) => {
                if let Ok(mut g) = self.stamp.lock() {
                    *g = now;
                }
                let me = rustix::process::geteuid().as_raw();
                let owner = std::fs::metadata(f.path())
                    .map(|m| format!("{}:{} {:o}", m.uid(), m.gid(), m.mode() & 0o7777))
                    .unwrap_or_default();
                tracing::error!(
                    error = %e, owner = %owner, server_uid = me,
                    "token file changed but could not be loaded; keeping previous tokens \
                     (a file the server cannot read: give it back to the service user, e.g. \
                     chown mymcp: {})",
                    f.path().display()
                );
                Some(false)
            }
        }
    }

    /// Merge in-memory `last_used` into the file for entries that still exist.
    pub(crate) fn persist_last_used(&self) -> Result<(), TokenError> {
        let Some(f) = &self.file else { return Ok(()) };
        let pending: HashMap<String, String> = match self.last_used.lock() {
            Ok(mut g) if !g.is_empty() => std::mem::take(&mut *g),
            _ => return Ok(()),
        };
        let res = f.modify(|s| {
            let mut changed = false;
            for (id, t) in &pending {
                if let Some(e) = s.tokens.get_mut(id)
                    && e.last_used.as_deref() < Some(t.as_str())
                {
                    e.last_used = Some(t.clone());
                    changed = true;
                }
            }
            Ok(((), changed))
        });
        match res {
            Ok(((), set)) => {
                self.install(set, f.stamp());
                Ok(())
            }
            Err(e) => {
                // Keep them for the next attempt rather than dropping them.
                if let Ok(mut g) = self.last_used.lock() {
                    for (k, v) in pending {
                        g.entry(k).or_insert(v);
                    }
                }
                Err(e)
            }
        }
    }
}

fn poisoned() -> TokenError {
    TokenError::Io(io_at(Path::new("<memory>"))(std::io::Error::other(
        "token store lock poisoned",
    )))
}

fn ct_match(slot: &RwLock<Option<[u8; 32]>>, token: &str) -> bool {
    let Ok(g) = slot.read() else { return false };
    match g.as_ref() {
        Some(h) => bool::from(h.ct_eq(&hash_token(token))),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn reference_file_loads_and_roles_are_strict() {
        let text = r#"{"tokens":{
            "tok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":{"name":"rw1","created_at":"x","last_used":null,"enabled":true,"role":"rw"},
            "tok_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb":{"name":"norole","created_at":"x","last_used":null,"enabled":true},
            "tok_cccccccccccccccccccccccccccccccc":{"name":"off","created_at":"x","last_used":null,"enabled":false,"role":"ro"},
            "tok_dddddddddddddddddddddddddddddddd":{"name":"noenabled","role":"ro"}
        },"admin_token":"secret"}"#;
        let set = TokenSet::parse(text).unwrap();
        assert!(set.legacy);
        let store = TokenStore::open(None).unwrap();
        *store.set.write().unwrap() = set;
        let p = store
            .authenticate("tok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .unwrap();
        assert_eq!((p.name.as_str(), p.role), ("rw1", Role::Rw));
        assert!(
            store
                .authenticate("tok_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
                .is_none()
        );
        assert!(
            store
                .authenticate("tok_cccccccccccccccccccccccccccccccc")
                .is_none()
        );
        assert!(
            store
                .authenticate("tok_dddddddddddddddddddddddddddddddd")
                .is_none()
        );
        assert!(
            store
                .authenticate("tok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab")
                .is_none()
        );
        // A ticket's issuer must still be enabled *and* hold a valid role.
        let id_of = |name: &str| {
            let set = store.set.read().unwrap();
            set.tokens
                .iter()
                .find(|(_, e)| e.name == name)
                .map(|(id, _)| id.clone())
                .unwrap()
        };
        assert!(store.is_active(&id_of("rw1")));
        assert!(!store.is_active(&id_of("norole")));
        assert!(!store.is_active(&id_of("off")));
        assert!(!store.is_active("tok_nope"));
        let out = store.set.read().unwrap().to_json();
        assert!(!out.contains("tok_"), "{out}");
        assert!(!out.contains("secret"), "{out}");
        let again = TokenSet::parse(&out).unwrap();
        assert!(!again.legacy);
        assert_eq!(again.tokens, store.set.read().unwrap().tokens);
    }

    #[test]
    fn a_malformed_hash_is_refused_with_a_message_that_says_so() {
        let entry = |h: &str| {
            format!(
                r#"{{"tokens":{{"k":{{"name":"n","sha256":"{h}","role":"ro","enabled":true}}}}}}"#
            )
        };
        let good = "a".repeat(64);
        assert!(TokenSet::parse(&entry(&good)).is_ok());
        for bad in ["a".repeat(63), "g".repeat(64), "a".repeat(65)] {
            let err = TokenSet::parse(&entry(&bad)).unwrap_err();
            assert!(err.contains("sha256 is not 64 hex digits"), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_name_a_legacy_key_by_its_first_characters_only() {
        // Legacy files are keyed by the token itself: an error must not print it whole.
        let key = "tok_secretsecretsecretsecretsecret";
        let err = TokenSet::parse(&format!(r#"{{"tokens":{{"{key}":5}}}}"#)).unwrap_err();
        assert!(err.contains("tok_secr…"), "{err}");
        assert!(!err.contains(key), "{err}");
    }

    #[test]
    fn a_token_is_found_only_when_its_full_hash_matches() {
        // An entry filed under the id of "tok_x" but holding another token's hash (a
        // truncated-id collision, or a hand-edited file) must not let "tok_x" in.
        let mut set = TokenSet::default();
        let id = token_id(&hash_token("tok_x"));
        set.tokens.insert(
            id.clone(),
            StoredToken {
                name: "other".into(),
                sha256: hex::encode(hash_token("tok_other")),
                role: Some("rw".into()),
                enabled: true,
                created_at: String::new(),
                last_used: None,
            },
        );
        assert_eq!(set.find("tok_x"), None);
        // Control: by its id the entry is found.
        assert_eq!(set.find(&id), Some(id.clone()));
    }

    #[test]
    fn lock_creates_the_missing_directory_privately() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let file = TokenFile::new(d.path().join("new/tokens.json"));
        let _lock = file.lock(true).unwrap();
        let mode = std::fs::metadata(d.path().join("new"))
            .unwrap()
            .permissions()
            .mode();
        // create_private_dir: the owner and its group (a service user's), nobody else.
        assert_eq!(mode & 0o007, 0, "{mode:o}");
    }

    #[test]
    fn a_change_of_whole_seconds_changes_the_stamp() {
        // Some file systems keep no sub-second times: the seconds must count on their own.
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("tokens.json");
        std::fs::write(&path, "{}").unwrap();
        let file = TokenFile::new(&path);
        let at = |sec: i64| {
            let t = rustix::fs::Timestamps {
                last_access: rustix::fs::Timespec {
                    tv_sec: sec,
                    tv_nsec: 0,
                },
                last_modification: rustix::fs::Timespec {
                    tv_sec: sec,
                    tv_nsec: 0,
                },
            };
            rustix::fs::utimensat(rustix::fs::CWD, &path, &t, rustix::fs::AtFlags::empty())
                .unwrap();
            file.stamp().unwrap()
        };
        assert_ne!(at(1_000), at(2_000));
        assert_eq!(at(3_000), at(3_000));
    }

    #[test]
    fn file_roundtrip_and_find_by_value_or_id() {
        let dir = tempfile::tempdir().unwrap();
        let f = TokenFile::new(dir.path().join("t.json"));
        let ((tok, id), _) = f.modify(|s| Ok((s.add("a", Role::Ro)?, true))).unwrap();
        // Names are unique: a second "a" is refused and the file keeps one.
        let e = f.modify(|s| Ok((s.add("a", Role::Rw)?, true))).unwrap_err();
        assert!(matches!(e, TokenError::NameTaken { .. }), "{e}");
        assert_eq!(tok.len(), 36);
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let set = f.load().unwrap();
        assert_eq!(set.find(&tok).as_deref(), Some(id.as_str()));
        assert_eq!(set.find(&id).as_deref(), Some(id.as_str()));
        assert_eq!(set.find("tok_nope"), None);
    }

    #[test]
    fn reload_sees_outside_changes_and_last_used_never_resurrects() {
        let dir = tempfile::tempdir().unwrap();
        let f = TokenFile::new(dir.path().join("t.json"));
        let store = TokenStore::open(Some(f.clone())).unwrap();
        let (tok, id) = store.create("srv", Role::Rw).unwrap();
        assert!(store.authenticate(&tok).is_some());
        // Another process revokes it.
        f.modify(|s| Ok((s.tokens.remove(&id), true))).unwrap();
        assert_eq!(store.reload_if_changed(), Some(true));
        assert!(store.authenticate(&tok).is_none());
        store.persist_last_used().unwrap();
        assert!(f.load().unwrap().tokens.is_empty());
    }

    #[test]
    fn last_used_reaches_the_file_only_when_newer() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let f = TokenFile::new(dir.path().join("t.json"));
        let store = TokenStore::open(Some(f.clone())).unwrap();
        let (_, id) = store.create("srv", Role::Ro).unwrap();
        let on_disk = || f.load().unwrap().tokens[&id].last_used.clone();
        let inode = || std::fs::metadata(f.path()).unwrap().ino();
        let used = |at: &str| {
            store
                .last_used
                .lock()
                .unwrap()
                .insert(id.clone(), at.to_string());
        };
        assert_eq!(on_disk(), None);

        used("2026-01-02T00:00:00Z");
        store.persist_last_used().unwrap();
        assert_eq!(on_disk().as_deref(), Some("2026-01-02T00:00:00Z"));

        // An older time (another server process saved a later one) does not win.
        used("2026-01-01T00:00:00Z");
        store.persist_last_used().unwrap();
        assert_eq!(on_disk().as_deref(), Some("2026-01-02T00:00:00Z"));

        // The same time again changes nothing, so the file is not rewritten (every save
        // replaces the file: a new inode).
        let before = inode();
        used("2026-01-02T00:00:00Z");
        store.persist_last_used().unwrap();
        assert_eq!(inode(), before);

        // Control: a newer time is saved, by replacing the file.
        used("2026-01-03T00:00:00Z");
        store.persist_last_used().unwrap();
        assert_eq!(on_disk().as_deref(), Some("2026-01-03T00:00:00Z"));
        assert_ne!(inode(), before);
    }
}
