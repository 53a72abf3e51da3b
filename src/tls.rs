//! Built-in HTTPS (`MYMCP_TLS_CERT`, `MYMCP_TLS_KEY`): loading and checking a certificate and
//! key pair, the rustls configuration of the listener, and reloading the pair without a
//! restart when its files change (a certbot renewal), keeping the old pair if the new one is
//! bad.
//!
//! The checks run on every load, at start and on reload alike: both files are PEM, the key
//! file is not readable by group or others (unless allowed), the key belongs to the
//! certificate, and the certificate has not expired. At start a failure refuses to serve; on
//! reload it is logged and counted and the server goes on with the pair it has.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate and key files and how strictly to treat the key's mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// `MYMCP_TLS_CERT`: PEM, the server certificate first, then any intermediates.
    pub(crate) cert: PathBuf,
    /// `MYMCP_TLS_KEY`: PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub(crate) key: PathBuf,
    /// `MYMCP_TLS_ALLOW_INSECURE_KEY_MODE`: accept a key file that group or others can read.
    pub(crate) allow_insecure_key_mode: bool,
}

/// Why a certificate/key pair cannot be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The certificate file holds no usable certificate.
    #[error("{}: no PEM certificate in it (expected `-----BEGIN CERTIFICATE-----`): {reason}", path.display())]
    NoCert {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error(
        "{}: no PEM private key in it (expected PKCS#8, RSA or EC `-----BEGIN ... PRIVATE KEY-----`): {reason}",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM reader or the key loader said.
        reason: String,
    },
    /// The key file is readable by group or others.
    #[error(
        "{} is mode {mode:04o}: a private key must not be readable by group or others \
         (chmod 600 {}), or set MYMCP_TLS_ALLOW_INSECURE_KEY_MODE=true to accept it",
        path.display(), path.display()
    )]
    KeyMode {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key is not the certificate's.
    #[error("the private key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate cannot be parsed as X.509.
    #[error("{}: the certificate is not valid X.509: {reason}", path.display())]
    BadCert {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The certificate's validity has ended.
    #[error("{}: the certificate expired on {not_after}", path.display())]
    Expired {
        /// The file.
        path: PathBuf,
        /// Its `notAfter`, RFC 3339.
        not_after: String,
    },
}

/// What is known about a loaded certificate, for the log, `doctor` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// The subject's distinguished name, as text.
    pub(crate) subject: String,
    /// `notAfter`, seconds since the epoch.
    pub(crate) not_after: i64,
    /// `notBefore`, seconds since the epoch.
    pub(crate) not_before: i64,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub(crate) names: Vec<String>,
    /// Certificates in the file (the server's plus intermediates).
    pub(crate) chain_len: usize,
}

impl CertInfo {
    /// `notAfter` as RFC 3339 text.
    pub(crate) fn not_after_text(&self) -> String {
        rfc3339(self.not_after)
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// A checked pair, ready to serve.
pub(crate) struct Loaded {
    /// The chain and signing key rustls serves.
    pub(crate) key: Arc<CertifiedKey>,
    /// Facts about the server certificate.
    pub(crate) info: CertInfo,
}

/// The crypto provider of the listener and of `doctor`'s probe: ring, as the recorder's HTTPS
/// client already uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read and check a pair (see the module comment for what is checked). `now` decides expiry.
pub(crate) fn load(files: &TlsFiles, now: SystemTime) -> Result<Loaded, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    if !files.allow_insecure_key_mode {
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::metadata(&files.key)
            .map_err(|source| TlsError::Read {
                path: files.key.clone(),
                source,
            })?
            .mode();
        if mode & 0o044 != 0 {
            return Err(TlsError::KeyMode {
                path: files.key.clone(),
                mode: mode & 0o7777,
            });
        }
    }
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCert {
            path: files.cert.clone(),
            reason: e.to_string(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCert {
            path: files.cert.clone(),
            reason: "the file has no certificate section".into(),
        });
    };
    let info = cert_info(leaf, chain.len()).map_err(|reason| TlsError::BadCert {
        path: files.cert.clone(),
        reason,
    })?;
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if info.not_after < now {
        return Err(TlsError::Expired {
            path: files.cert.clone(),
            not_after: info.not_after_text(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::NoKey {
            path: files.key.clone(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    // Strict: every key type ring loads can name its public key, so "unknown" is a mismatch too.
    certified.keys_match().map_err(|_| TlsError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

/// Subject, validity and names of a DER certificate.
pub(crate) fn cert_info(der: &CertificateDer<'_>, chain_len: usize) -> Result<CertInfo, String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.timestamp(),
        not_before: cert.validity().not_before.timestamp(),
        names,
        chain_len,
    })
}

/// Identity of the two files: a change of any part means "reload".
type Stamp = Option<[(u64, u64, u64, i64, i64, i64, i64); 2]>;

fn stamp(files: &TlsFiles) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let one = |p: &Path| {
        // Follows symlinks: certbot's live/ links move to new archive/ files on renewal.
        let m = std::fs::metadata(p).ok()?;
        Some((
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

/// The listener's certificate source: the pair loaded last, swapped on reload. Handshakes in
/// progress keep the pair they started with.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.0.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

/// Outcome of one reload check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reload {
    /// The files did not change since the last attempt.
    Unchanged,
    /// A new pair is served.
    Loaded,
    /// The files changed but the new pair was refused; the old one is still served.
    Failed,
}

/// Built-in HTTPS of one server: the rustls configuration and what reloading needs.
pub(crate) struct Tls {
    files: TlsFiles,
    current: Arc<Current>,
    config: Arc<rustls::ServerConfig>,
    /// Stamp of the files at the last load attempt, good or bad: a bad pair is tried again
    /// only when the files change again.
    tried: Mutex<Stamp>,
    info: Mutex<CertInfo>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Load the pair (refusing a bad one) and build the listener's configuration: TLS 1.2 and
    /// 1.3, HTTP/1.1 by ALPN.
    pub(crate) fn new(files: TlsFiles) -> Result<Tls, TlsError> {
        let stamp_before = stamp(&files);
        let loaded = load(&files, SystemTime::now())?;
        let current = Arc::new(Current(RwLock::new(loaded.key)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::NoKey {
                path: files.key.clone(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            current,
            config: Arc::new(config),
            tried: Mutex::new(stamp_before),
            info: Mutex::new(loaded.info),
        })
    }

    /// The acceptor for new connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// The files served.
    pub(crate) fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Facts about the certificate served now.
    pub(crate) fn info(&self) -> CertInfo {
        match self.info.lock() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Load the pair again if either file changed since the last attempt. A refused pair is
    /// logged; the one served stays.
    pub(crate) fn reload_if_changed(&self) -> Reload {
        let now = stamp(&self.files);
        {
            let mut tried = match self.tried.lock() {
                Ok(t) => t,
                Err(p) => p.into_inner(),
            };
            if *tried == now {
                return Reload::Unchanged;
            }
            *tried = now;
        }
        match load(&self.files, SystemTime::now()) {
            Ok(l) => {
                let (subject, not_after) = (l.info.subject.clone(), l.info.not_after_text());
                match self.current.0.write() {
                    Ok(mut k) => *k = l.key,
                    Err(p) => *p.into_inner() = l.key,
                }
                match self.info.lock() {
                    Ok(mut i) => *i = l.info,
                    Err(p) => *p.into_inner() = l.info,
                }
                // Logged once the new pair is in place: whoever reads this line and connects
                // gets the new certificate.
                tracing::info!(
                    cert = %self.files.cert.display(), subject = %subject, not_after = %not_after,
                    "TLS certificate files changed: new certificate and key loaded"
                );
                Reload::Loaded
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "TLS certificate files changed but cannot be used: still serving the previous \
                     certificate (fix the files; they are tried again when they change)"
                );
                Reload::Failed
            }
        }
    }
}

/// A client configuration that accepts exactly the certificate in `cert` (and checks the
/// handshake's signatures with it), whatever the name it is reached by: `doctor` and `init`
/// probe the local server at 127.0.0.1, which a certificate for the public name does not cover,
/// and "is the server presenting the configured certificate" is the question they ask.
pub(crate) fn pinned_client(cert: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let pem = std::fs::read(cert).map_err(|source| TlsError::Read {
        path: cert.to_path_buf(),
        source,
    })?;
    let leaf = CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap_or(Err(rustls::pki_types::pem::Error::NoItemsFound))
        .map_err(|e| TlsError::NoCert {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    let provider = provider();
    let verifier = Arc::new(Pinned {
        leaf: leaf.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::NoCert {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts one end-entity certificate, byte for byte.
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server presents a certificate other than the one in MYMCP_TLS_CERT                  (not reloaded yet, or another server on this port)"
                    .into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Pair {
        dir: tempfile::TempDir,
        files: TlsFiles,
    }

    fn write_pair(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            allow_insecure_key_mode: false,
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        Pair { dir, files }
    }

    /// Replace a file the way certbot and `install` do: a new inode, so the change is seen
    /// even within the filesystem's timestamp granularity.
    fn replace(path: &Path, text: String) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn self_signed(names: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        (params.self_signed(&key).unwrap(), key)
    }

    #[test]
    fn a_good_pair_loads_and_says_what_it_is() {
        let (c, k) = self_signed(&["localhost", "127.0.0.1", "::1"]);
        let p = write_pair(&c, &k);
        let l = load(&p.files, SystemTime::now()).unwrap();
        assert_eq!(l.info.names, vec!["localhost", "127.0.0.1", "::1"]);
        assert_eq!(l.info.chain_len, 1);
        assert!(l.info.not_after > l.info.not_before);
        assert!(l.info.not_after_text().contains('T'));
    }

    #[test]
    fn a_key_others_can_read_is_refused_unless_allowed() {
        let (c, k) = self_signed(&["localhost"]);
        let mut p = write_pair(&c, &k);
        std::fs::set_permissions(&p.files.key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(matches!(e, TlsError::KeyMode { mode: 0o640, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"));
        p.files.allow_insecure_key_mode = true;
        assert!(load(&p.files, SystemTime::now()).is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (c, _) = self_signed(&["localhost"]);
        let other = rcgen::KeyPair::generate().unwrap();
        let p = write_pair(&c, &other);
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(1);
        let p = write_pair(&params.self_signed(&key).unwrap(), &key);
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(matches!(e, TlsError::Expired { .. }), "{e}");
        assert!(e.to_string().contains("expired on"), "{e}");
        // Control: the same pair two days earlier was fine.
        let before = SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        assert!(load(&p.files, before).is_ok());
    }

    #[test]
    fn missing_and_garbage_files_say_which_file() {
        let (c, k) = self_signed(&["localhost"]);
        let p = write_pair(&c, &k);
        std::fs::write(&p.files.cert, "not pem").unwrap();
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(matches!(e, TlsError::NoCert { .. }), "{e}");
        std::fs::write(&p.files.cert, c.pem()).unwrap();
        std::fs::write(&p.files.key, c.pem()).unwrap();
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(matches!(e, TlsError::NoKey { .. }), "{e}");
        std::fs::remove_file(&p.files.key).unwrap();
        let e = load(&p.files, SystemTime::now()).err().unwrap();
        assert!(e.to_string().contains("key.pem"), "{e}");
        drop(p.dir);
    }

    #[test]
    fn reload_swaps_a_good_pair_and_keeps_the_old_one_for_a_bad_pair() {
        let (c, k) = self_signed(&["one.test"]);
        let p = write_pair(&c, &k);
        let tls = Tls::new(p.files.clone()).unwrap();
        assert_eq!(tls.reload_if_changed(), Reload::Unchanged);
        // A mismatched pair (the key written, the certificate not yet): refused, old kept.
        let (c2, k2) = self_signed(&["two.test"]);
        replace(&p.files.key, k2.serialize_pem());
        assert_eq!(tls.reload_if_changed(), Reload::Failed);
        assert_eq!(tls.info().names, vec!["one.test"]);
        // Not retried until the files change again.
        assert_eq!(tls.reload_if_changed(), Reload::Unchanged);
        replace(&p.files.cert, c2.pem());
        assert_eq!(tls.reload_if_changed(), Reload::Loaded);
        assert_eq!(tls.info().names, vec!["two.test"]);
    }
}
