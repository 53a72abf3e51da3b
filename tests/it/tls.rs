//! Built-in HTTPS (`MYMCP_TLS_CERT`/`MYMCP_TLS_KEY`) with certificates made here by rcgen: a
//! CA, server certificates for 127.0.0.1, a renewal picked up without a restart, a bad renewal
//! that leaves the old pair serving, and the pairs start refuses.

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Client, Doctor, Layout, Server, serve_refused, wait_for_line};

const METRICS: &str = "tok_metrics_for_tests_0123456789abcdef";

/// A CA that signs server certificates for `127.0.0.1` and `localhost`.
struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A server certificate and its key, as PEM.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mymcp test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate valid from yesterday for `days` days (negative: already expired).
    fn leaf(&self, cn: &str, days: i64) -> Leaf {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// Write a file the way certbot and `install` replace one: a new inode, mode 0600.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A layout whose env file turns HTTPS on with `leaf` (files under `<root>/tls`).
fn tls_layout(leaf: &Leaf, extra: &str) -> (Layout, PathBuf, PathBuf) {
    let probe = Layout::new("");
    let dir = probe.root().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    replace(&cert, &leaf.cert_pem);
    replace(&key, &leaf.key_pem);
    let env = std::fs::read_to_string(probe.env_file()).unwrap();
    std::fs::write(
        probe.env_file(),
        format!(
            "{env}MYMCP_TLS_CERT={}\nMYMCP_TLS_KEY={}\nMYMCP_METRICS_TOKEN={METRICS}\n{extra}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    (probe, cert, key)
}

/// A client that trusts only `ca_pem` and reports the peer certificate.
fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

fn use_https(s: &mut Server, ca_pem: &str) {
    s.api = Client {
        addr: s.addr.clone(),
        client: https_client(ca_pem),
        scheme: "https",
    };
}

/// The DER of the certificate the server presents to a new client (a fresh client: a TLS
/// session resumed from an earlier connection would report that connection's certificate).
async fn served_cert(s: &Server, ca_pem: &str) -> Vec<u8> {
    let r = https_client(ca_pem)
        .get(s.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info of the connection")
        .to_vec()
}

/// Whole days until the served certificate's `notAfter`, from the metrics text.
fn days_left(metrics: &str) -> i64 {
    let not_after: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mymcp_tls_certificate_expiry_timestamp_seconds "))
        .and_then(|v| v.parse().ok())
        .expect("expiry gauge");
    (not_after - time::OffsetDateTime::now_utc().unix_timestamp()) / 86_400
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed")
}

#[tokio::test]
async fn https_serves_mcp_and_transfers_with_a_certificate_made_here() {
    let ca = Ca::new();
    let leaf = ca.leaf("mymcp.test", 30);
    let (l, _, _) = tls_layout(&leaf, "");
    let mut s = Server::start(&l);
    let banner = s.stderr_lines().join("\n");
    assert!(banner.contains("[mymcp] https: certificate"), "{banner}");
    use_https(&mut s, &ca.pem());
    assert_eq!(served_cert(&s, &ca.pem()).await, leaf.der);

    // MCP and the admin API over HTTPS: mint a token, list and call a tool.
    let (rw, _) = s.admin_create("tls", "rw").await;
    let names = s.tool_names(&rw).await;
    assert!(names.iter().any(|n| n == "read_file"), "{names:?}");

    // Ticket URLs and the curl example say https, and curl can use them with the CA.
    let file = l.data().join("hello.txt");
    std::fs::write(&file, "over tls\n").unwrap();
    let (err, v) = s
        .call(
            &rw,
            "prepare_download",
            json!({"src_path": file.to_str().unwrap()}),
        )
        .await;
    assert!(!err, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("https://{}/files/raw/", s.addr)),
        "{url}"
    );
    let example = v["curl_example"].as_str().unwrap();
    assert!(example.contains("https://"), "{example}");
    let ca_file = l.root().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let out = curl(&["-f", "--cacert", ca_file.to_str().unwrap(), url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over tls\n");

    // TLS 1.2 and 1.3 both negotiate; ALPN picks HTTP/1.1.
    for (min, max, want) in [
        ("--tlsv1.2", "1.2", "TLSv1.2"),
        ("--tlsv1.3", "1.3", "TLSv1.3"),
    ] {
        let out = curl(&[
            "-v",
            "--cacert",
            ca_file.to_str().unwrap(),
            min,
            "--tls-max",
            max,
            &s.url("/health"),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains(want), "{err}");
        assert!(err.contains("http/1.1"), "{err}");
    }

    // Controls: a client that does not trust the CA is refused by its own TLS check, and plain
    // HTTP to the port gets no HTTP answer (the handshake failure is counted).
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting.get(s.url("/health")).send().await.is_err());
    let plain = reqwest::Client::new()
        .get(format!("http://{}/health", s.addr))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    let m = s.metrics(METRICS).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("mymcp_tls_handshake_failures_total ") && !l.ends_with(" 0")),
        "{m}"
    );
    let days = days_left(&m);
    assert!((29..=30).contains(&days), "{days}");
}

#[tokio::test]
async fn a_renewal_is_served_without_a_restart_and_a_bad_one_is_not() {
    let ca = Ca::new();
    let first = ca.leaf("first.test", 30);
    let (l, cert, key) = tls_layout(&first, "");
    let mut s = Server::start(&l);
    use_https(&mut s, &ca.pem());
    assert_eq!(served_cert(&s, &ca.pem()).await, first.der);
    let (rw, _) = s.admin_create("tls", "rw").await;
    assert!(!s.tool_names(&rw).await.is_empty());

    // A bad renewal: the new key lands, its certificate does not (a half-finished copy).
    let second = ca.leaf("second.test", 60);
    replace(&key, &second.key_pem);
    wait_for_line(&s, "still serving the previous certificate");
    assert_eq!(
        served_cert(&s, &ca.pem()).await,
        first.der,
        "the old pair keeps serving"
    );
    assert!(
        s.metrics(METRICS)
            .await
            .contains("mymcp_tls_reloads_total{result=\"error\"} 1")
    );

    // The certificate follows: the pair is good again and is served on new connections.
    replace(&cert, &second.cert_pem);
    wait_for_line(&s, "new certificate and key loaded");
    assert_eq!(served_cert(&s, &ca.pem()).await, second.der);
    let m = s.metrics(METRICS).await;
    assert!(
        m.contains("mymcp_tls_reloads_total{result=\"ok\"} 1"),
        "{m}"
    );
    let days = days_left(&m);
    assert!((59..=60).contains(&days), "{days}");
    // The server kept running through both: a call still works.
    assert!(!s.tool_names(&rw).await.is_empty());
}

#[test]
fn a_pair_that_cannot_be_served_refuses_the_start_and_says_why() {
    let ca = Ca::new();
    let good = ca.leaf("good.test", 30);
    let other = ca.leaf("other.test", 30);
    let expired = ca.leaf("old.test", -1);
    let check = |leaf: &Leaf, key_pem: &str, mode: u32, extra: &str, want: &str| {
        let (l, _, key) = tls_layout(leaf, extra);
        replace(&key, key_pem);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = serve_refused(&l);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{want}: {err}");
        assert!(err.contains(want), "wanted {want:?} in:\n{err}");
    };
    check(
        &good,
        &other.key_pem,
        0o600,
        "",
        "does not belong to the certificate",
    );
    check(
        &expired,
        &expired.key_pem,
        0o600,
        "",
        "the certificate expired on",
    );
    check(&good, &good.key_pem, 0o644, "", "is mode 0644");
    check(&good, "garbage", 0o600, "", "no PEM private key");
    check(
        &good,
        &good.key_pem,
        0o600,
        "MYMCP_TLS_CERT=/nonexistent/cert.pem",
        "cannot read /nonexistent/cert.pem",
    );
    check(
        &good,
        &good.key_pem,
        0o600,
        "MYMCP_TLS_KEY=",
        "MYMCP_TLS_KEY: must be set when MYMCP_TLS_CERT is",
    );
    check(
        &good,
        &good.key_pem,
        0o600,
        "MYMCP_TLS_CERT=tls/cert.pem",
        "must be an absolute path",
    );
}

#[tokio::test]
async fn a_readable_key_is_served_when_the_operator_allows_it() {
    let ca = Ca::new();
    let leaf = ca.leaf("allowed.test", 30);
    let (l, _, key) = tls_layout(&leaf, "MYMCP_TLS_ALLOW_INSECURE_KEY_MODE=true");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut s = Server::start(&l);
    use_https(&mut s, &ca.pem());
    assert_eq!(served_cert(&s, &ca.pem()).await, leaf.der);
}

#[test]
fn doctor_checks_the_pair_and_probes_the_server_over_https() {
    let ca = Ca::new();
    let leaf = ca.leaf("doctor.test", 10);
    let (l, cert, _) = tls_layout(&leaf, "");
    let s = Server::start(&l);
    let d = Doctor::run(&l.root().join("etc"), &[]);
    let tls = d.check("tls");
    // Ten days left is inside the renewal window: a warning that says how long.
    assert_eq!(tls["severity"], "warn", "{tls}");
    let detail = tls["detail"].as_str().unwrap();
    assert!(detail.contains("127.0.0.1, localhost"), "{detail}");
    assert!(detail.contains("days left"), "{detail}");
    let health = d.check("health");
    assert_eq!(health["severity"], "ok", "{health}");
    assert!(
        health["detail"].as_str().unwrap().starts_with("https://"),
        "{health}"
    );
    assert_eq!(d.check("tools/list")["severity"], "ok");

    // A half-done renewal: the file holds a certificate the key does not match. The pair check
    // fails, and the probe, which accepts only the file's certificate, sees the server still
    // presenting the old one and says so instead of trusting it.
    let other = ca.leaf("other.test", 90);
    replace(&cert, &other.cert_pem);
    let d = Doctor::run(&l.root().join("etc"), &[]);
    let tls = d.check("tls");
    assert_eq!(tls["severity"], "fail", "{tls}");
    assert!(
        tls["detail"]
            .as_str()
            .unwrap()
            .contains("does not belong to the certificate")
    );
    let health = d.check("health");
    assert_eq!(health["severity"], "fail", "{health}");
    assert!(
        health["detail"]
            .as_str()
            .unwrap()
            .contains("presents a certificate other than the one in MYMCP_TLS_CERT"),
        "{health}"
    );
    drop(s);
}

#[test]
fn init_writes_the_pair_into_the_env_file_and_the_url_says_https() {
    let ca = Ca::new();
    let leaf = ca.leaf("init.test", 30);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    replace(&cert, &leaf.cert_pem);
    replace(&key, &leaf.key_pem);
    let cfg = dir.path().join("cfg");
    let init = |extra: &[&str]| {
        crate::common::mymcp_cmd()
            .args(["init", "--files-only", "--yes", "--config-dir"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap()
    };
    // Control first: a key others can read is refused and nothing is written.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let out = init(&args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is mode 0644"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cfg.join(".env").exists());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = init(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("https://127.0.0.1:8765/mcp"), "{stdout}");
    let env = std::fs::read_to_string(cfg.join(".env")).unwrap();
    assert!(
        env.contains(&format!("MYMCP_TLS_CERT={}\n", cert.display())),
        "{env}"
    );
    assert!(env.contains(&format!("MYMCP_TLS_KEY={}\n", key.display())));
    // A second run keeps the env file, so it cannot honour new TLS options: it says so.
    let out = init(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add MYMCP_TLS_CERT and MYMCP_TLS_KEY"));
    // One without the other is a usage error.
    let out = init(&["--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// The private key is a secret wherever it is kept: here a certbot-like tree outside the
/// configuration directory (`live/` links into `archive/`), which an `ro` caller of a server
/// running as root could otherwise read. After a renewal moves the links to new files, the
/// new key is protected too.
#[tokio::test]
async fn the_key_is_protected_from_callers_and_stays_protected_after_a_renewal() {
    use std::os::unix::fs::symlink;
    let ca = Ca::new();
    let first = ca.leaf("first.test", 30);
    let probe = Layout::new("");
    let le = probe.root().join("le");
    let (archive, live) = (le.join("archive"), le.join("live"));
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    replace(&archive.join("cert1.pem"), &first.cert_pem);
    replace(&archive.join("privkey1.pem"), &first.key_pem);
    symlink("../archive/cert1.pem", live.join("cert.pem")).unwrap();
    symlink("../archive/privkey1.pem", live.join("privkey.pem")).unwrap();
    let plain_env = std::fs::read_to_string(probe.env_file()).unwrap();

    // Control: without TLS configured, nothing protects the file and ro reads the key.
    let s = Server::start(&probe);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let key_via_link = live.join("privkey.pem").display().to_string();
    let (e, v) = s
        .call(&ro, "read_file", json!({"file_path": key_via_link}))
        .await;
    assert!(
        !e && v["content"].as_str().unwrap().contains("PRIVATE KEY"),
        "{v}"
    );
    drop(s);

    std::fs::write(
        probe.env_file(),
        format!(
            "{plain_env}MYMCP_TLS_CERT={}\nMYMCP_TLS_KEY={key_via_link}\nMYMCP_METRICS_TOKEN={METRICS}\n",
            live.join("cert.pem").display()
        ),
    )
    .unwrap();
    let mut s = Server::start(&probe);
    use_https(&mut s, &ca.pem());
    assert_eq!(served_cert(&s, &ca.pem()).await, first.der);
    let refused = |v: &Value| v["error"] == "ProtectedPath";
    for p in [live.join("privkey.pem"), archive.join("privkey1.pem")] {
        let (e, v) = s.call(&ro, "read_file", json!({"file_path": p})).await;
        assert!(e && refused(&v), "{}: {v}", p.display());
    }
    // The certificate beside it is public and stays readable.
    let (e, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": archive.join("cert1.pem")}),
        )
        .await;
    assert!(
        !e && v["content"].as_str().unwrap().contains("CERTIFICATE"),
        "{v}"
    );

    // A renewal as certbot does it: new files in archive/, the live/ links replaced.
    let second = ca.leaf("second.test", 60);
    replace(&archive.join("cert2.pem"), &second.cert_pem);
    replace(&archive.join("privkey2.pem"), &second.key_pem);
    for (name, target) in [("cert.pem", "cert2.pem"), ("privkey.pem", "privkey2.pem")] {
        let tmp = live.join(format!("{name}.new"));
        symlink(format!("../archive/{target}"), &tmp).unwrap();
        std::fs::rename(&tmp, live.join(name)).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s
        .metrics(METRICS)
        .await
        .contains("mymcp_tls_reloads_total{result=\"ok\"} 1")
    {
        assert!(std::time::Instant::now() < deadline, "no reload");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(served_cert(&s, &ca.pem()).await, second.der);
    for p in [live.join("privkey.pem"), archive.join("privkey2.pem")] {
        let (e, v) = s.call(&ro, "read_file", json!({"file_path": p})).await;
        assert!(e && refused(&v), "{}: {v}", p.display());
    }
    // A search over the tree finds the certificates, never a key.
    let (e, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "BEGIN", "path": le, "output_mode": "files"}),
        )
        .await;
    assert!(!e, "{v}");
    let text = v.to_string();
    assert!(text.contains("cert2.pem"), "{text}");
    assert!(!text.contains("privkey2.pem"), "{text}");
}
