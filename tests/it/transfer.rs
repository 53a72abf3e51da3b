//! prepare_upload / prepare_download and /files/raw/{ticket}, with curl as the client.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Layout, Server, tool_result};
use serde_json::{Value, json};

async fn setup(extra: &str) -> (Layout, Server, String) {
    let l = Layout::new(extra);
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("mover", "rw").await;
    (l, s, rw)
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .arg("-sS")
        .args(args)
        .output()
        .expect("curl is installed");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (status, body) of a curl request.
fn curl_status(args: &[&str]) -> (u16, String) {
    let mut a = vec!["-o", "/dev/stdout", "-w", "\n%{http_code}"];
    a.extend_from_slice(args);
    let (out, _) = curl(&a);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn sha256_file(p: &Path) -> String {
    use sha2::Digest;
    use std::io::Read;
    let mut h = sha2::Sha256::new();
    let mut f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

fn peak_rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kb / 1024.0
}

#[tokio::test]
async fn large_upload_and_download_are_byte_identical_in_bounded_memory() {
    let (l, s, rw) = setup("MYMCP_AUDIT_ENABLED=true").await;
    let src = l.data().join("src.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&src).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for i in 0..200u32 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (i as usize * 31 + j * 7 % 251) as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let want = sha256_file(&src);
    let dst = l.data().join("up/dst.bin");
    let (err, v) = s
        .call(&rw, "prepare_upload", json!({"dest_path": dst}))
        .await;
    assert!(!err, "{v}");
    let url = v["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("http://{}/files/raw/", s.addr)),
        "{url}"
    );
    let (out, errs) = curl(&["-f", "-T", src.to_str().unwrap(), &url]);
    let reply: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out} {errs}"));
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["bytes_written"], 200 << 20);
    assert_eq!(reply["sha256"], want);
    assert_eq!(sha256_file(&dst), want);

    let (_, v) = s
        .call(&rw, "prepare_download", json!({"src_path": dst}))
        .await;
    let url = v["url"].as_str().unwrap().to_string();
    let back = l.data().join("back.bin");
    curl(&["-f", &url, "-o", back.to_str().unwrap()]);
    assert_eq!(sha256_file(&back), want);
    let peak = peak_rss_mb(s.child.id());
    assert!(peak < 64.0, "server peak RSS {peak} MB while moving 200 MB");
    // Used up after the last byte.
    let (code, body) = curl_status(&[&url]);
    assert_eq!(code, 410, "{body}");
    // Both redeems audited with the issuer.
    let log = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .collect();
    let up = lines
        .iter()
        .find(|x| x["tool"] == "transfer_upload")
        .unwrap();
    assert_eq!(up["params"]["bytes"], 200 << 20);
    assert_eq!(up["params"]["op"], "upload");
    assert_eq!(up["token_name"], "mover");
    assert_eq!(up["result"], "ok");
    assert!(lines.iter().any(|x| x["tool"] == "transfer_download"
        && x["result"] == "ok"
        && x["params"]["op"] == "download"));
}

#[tokio::test]
async fn redeem_errors_use_the_reference_codes() {
    let (l, s, rw) = setup("").await;
    let d = l.data();
    let f = d.join("file.txt");
    std::fs::write(&f, "hello").unwrap();
    let up = |dest: &Path, extra: Value| {
        let mut a = json!({"dest_path": dest});
        if let (Some(o), Some(e)) = (a.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        a
    };
    let payload = d.join("payload");
    std::fs::write(&payload, "0123456789").unwrap();
    let pl = payload.to_str().unwrap();

    // Unknown ticket.
    let (code, body) = curl_status(&[&s.url("/files/raw/nope")]);
    assert_eq!(
        (code, serde_json::from_str::<Value>(&body).unwrap()),
        (
            404,
            json!({"error":"ticket_not_found","hint":"Mint a new ticket.","ok":false})
        )
    );

    // Wrong method does not consume; then the right one works; then reuse is 410.
    let (_, v) = s
        .call(&rw, "prepare_upload", up(&d.join("a.bin"), json!({})))
        .await;
    let url = v["url"].as_str().unwrap().to_string();
    let (code, body) = curl_status(&[&url]);
    assert_eq!((code, body.contains("wrong_method")), (405, true), "{body}");
    assert!(body.contains("requires PUT"), "{body}");
    let (code, _) = curl_status(&["-T", pl, &url]);
    assert_eq!(code, 200);
    let (code, body) = curl_status(&["-T", pl, &url]);
    assert_eq!(
        (code, body.contains("Ticket already used.")),
        (410, true),
        "{body}"
    );

    // Over-size by Content-Length and by a chunked body; the destination stays untouched.
    let (_, v) = s
        .call(&rw, "prepare_upload", up(&f, json!({"max_bytes": 5})))
        .await;
    let (code, body) = curl_status(&["-T", pl, v["url"].as_str().unwrap()]);
    assert_eq!(
        (code, body.contains("size_exceeded")),
        (413, true),
        "{body}"
    );
    let (_, v) = s
        .call(&rw, "prepare_upload", up(&f, json!({"max_bytes": 5})))
        .await;
    let (code, body) = curl_status(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-T",
        pl,
        v["url"].as_str().unwrap(),
    ]);
    assert_eq!(
        (code, body.contains("size_exceeded")),
        (413, true),
        "{body}"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "hello");
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        3,
        "no temp file left behind"
    );

    // overwrite=false still holds at redeem.
    let late = d.join("late.txt");
    let (_, v) = s
        .call(
            &rw,
            "prepare_upload",
            up(&late, json!({"overwrite": false})),
        )
        .await;
    std::fs::write(&late, "created meanwhile").unwrap();
    let (code, body) = curl_status(&["-T", pl, v["url"].as_str().unwrap()]);
    assert_eq!((code, body.contains("file_exists")), (409, true), "{body}");
    assert_eq!(std::fs::read_to_string(&late).unwrap(), "created meanwhile");
    let (err, v) = s
        .call(
            &rw,
            "prepare_upload",
            up(&late, json!({"overwrite": false})),
        )
        .await;
    assert!(err);
    assert_eq!(v["error"], "FileExists");

    // Protected at redeem: the path became a symlink into the protected directory.
    let sneaky = d.join("sneaky");
    let (_, v) = s.call(&rw, "prepare_upload", up(&sneaky, json!({}))).await;
    std::os::unix::fs::symlink(l.env_file(), &sneaky).unwrap();
    let (code, body) = curl_status(&["-T", pl, v["url"].as_str().unwrap()]);
    assert_eq!(
        (code, body.contains("path_protected")),
        (403, true),
        "{body}"
    );
    let swapped = d.join("swapped");
    std::fs::write(&swapped, "fine").unwrap();
    let (_, v) = s
        .call(&rw, "prepare_download", json!({"src_path": swapped}))
        .await;
    std::fs::remove_file(&swapped).unwrap();
    std::os::unix::fs::symlink(l.env_file(), &swapped).unwrap();
    let (code, body) = curl_status(&[v["url"].as_str().unwrap()]);
    assert_eq!(
        (code, body.contains("path_protected")),
        (403, true),
        "{body}"
    );
    assert!(!body.contains("MYMCP_ADMIN_TOKEN"));

    // Gone at redeem.
    let gone = d.join("gone");
    std::fs::write(&gone, "x").unwrap();
    let (_, v) = s
        .call(&rw, "prepare_download", json!({"src_path": gone}))
        .await;
    std::fs::remove_file(&gone).unwrap();
    let (code, body) = curl_status(&[v["url"].as_str().unwrap()]);
    assert_eq!(
        (code, body.contains("path_not_found")),
        (404, true),
        "{body}"
    );

    // Expired.
    let (_, v) = s
        .call(
            &rw,
            "prepare_download",
            json!({"src_path": f, "expires_in": 1}),
        )
        .await;
    let url = v["url"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // HEAD never consumes, so polling it is harmless.
        let (code, _) = curl_status(&["-I", &url]);
        if code == 410 {
            let (code, body) = curl_status(&[&url]);
            assert_eq!(code, 410);
            assert!(body.contains("ticket_expired"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "ticket never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn head_then_get_and_resumed_range_download() {
    let (l, s, rw) = setup("").await;
    let f = l.data().join("data.bin");
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&f, &content).unwrap();
    let (_, v) = s
        .call(&rw, "prepare_download", json!({"src_path": f}))
        .await;
    assert_eq!(v["size"], 100_000);
    let url = v["url"].as_str().unwrap().to_string();
    let (head, _) = curl(&["-I", &url]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 100000"),
        "{head}"
    );
    // A first, interrupted download: only the first 30000 bytes.
    let part = l.data().join("part.bin");
    curl(&["-f", "-r", "0-29999", &url, "-o", part.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 30_000);
    // Resume with the same ticket.
    curl(&["-f", "-C", "-", &url, "-o", part.to_str().unwrap()]);
    assert_eq!(std::fs::read(&part).unwrap(), content);
    let (code, _) = curl_status(&[&url]);
    assert_eq!(code, 410);
    // Unsatisfiable range.
    let (_, v) = s
        .call(&rw, "prepare_download", json!({"src_path": f}))
        .await;
    let (code, _) = curl_status(&["-r", "200000-", v["url"].as_str().unwrap()]);
    assert_eq!(code, 416);
}

#[tokio::test]
async fn curl_examples_are_safe_to_paste() {
    let (l, s, rw) = setup("MYMCP_PUBLIC_BASE_URL=https://mcp.example.com/").await;
    let evil = l.data().join("a b\"c'; touch PWNED; echo $(id).txt");
    std::fs::write(&evil, "x").unwrap();
    let (err, v) = s
        .call(&rw, "prepare_download", json!({"src_path": evil}))
        .await;
    assert!(!err, "{v}");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with("https://mcp.example.com/files/raw/")
    );
    // Replace curl with printf and let a real shell parse the command.
    let cmd = v["curl_example"]
        .as_str()
        .unwrap()
        .replacen("curl", "printf '%s\\n'", 1);
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .current_dir(work.path())
        .output()
        .unwrap();
    let args: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(args.len(), 4, "{args:?}");
    assert_eq!(args[3], "/local/path/a b\"c'; touch PWNED; echo $(id).txt");
    assert!(!work.path().join("PWNED").exists());
    let (_, v) = s
        .call(&rw, "prepare_upload", json!({"dest_path": evil}))
        .await;
    let cmd = v["curl_example"]
        .as_str()
        .unwrap()
        .replacen("curl", "printf '%s\\n'", 1);
    let out = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 4);
}

#[tokio::test]
async fn mint_errors_and_ticket_cap() {
    let (l, s, rw) = setup("MYMCP_TRANSFER_MAX_TTL_SEC=60").await;
    let d = l.data();
    let f = d.join("f");
    std::fs::write(&f, "x").unwrap();
    let mut out = Vec::new();
    for (name, tool, args) in [
        ("relative_dest", "prepare_upload", json!({"dest_path": "x"})),
        (
            "protected_dest",
            "prepare_upload",
            json!({"dest_path": l.env_file()}),
        ),
        (
            "bad_max_bytes",
            "prepare_upload",
            json!({"dest_path": d.join("n"), "max_bytes": 0}),
        ),
        (
            "bad_expires",
            "prepare_upload",
            json!({"dest_path": d.join("n"), "expires_in": -1}),
        ),
        ("relative_src", "prepare_download", json!({"src_path": "x"})),
        (
            "missing_src",
            "prepare_download",
            json!({"src_path": d.join("missing")}),
        ),
        ("dir_src", "prepare_download", json!({"src_path": d})),
        (
            "device_src",
            "prepare_download",
            json!({"src_path": "/dev/zero"}),
        ),
        (
            "protected_src",
            "prepare_download",
            json!({"src_path": l.token_file()}),
        ),
    ] {
        let (err, v) = s.call(&rw, tool, args).await;
        assert!(err, "{name}: {v}");
        let t = v.to_string().replace(l.root().to_str().unwrap(), "[ROOT]");
        out.push(json!({"case": name, "result": serde_json::from_str::<Value>(&t).unwrap()}));
    }
    insta::assert_json_snapshot!("transfer_mint_errors", out);
    // TTL clamps to the max.
    let (_, v) = s
        .call(
            &rw,
            "prepare_download",
            json!({"src_path": f, "expires_in": 100000}),
        )
        .await;
    assert_eq!(v["expires_in"], 60);
    // At most 64 live tickets per token (one minted above).
    for _ in 0..63 {
        let (err, _) = s
            .call(&rw, "prepare_download", json!({"src_path": f}))
            .await;
        assert!(!err);
    }
    let (err, v) = s
        .call(&rw, "prepare_download", json!({"src_path": f}))
        .await;
    assert!(err);
    assert_eq!(v["error"], "TooManyTickets");
    // Another token is not affected.
    let (other, _) = s.admin_create("other", "ro").await;
    let (err, _) = s
        .call(&other, "prepare_download", json!({"src_path": f}))
        .await;
    assert!(!err);
}

/// prepare_upload with these forwarding headers; the ticket URL it answers.
async fn ticket_url_behind_proxy(s: &Server, token: &str, dest: &Path, proto: &str) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "prepare_upload", "arguments": {"dest_path": dest}}});
    let v: Value = s
        .mcp_request(Some(token))
        .header("X-Forwarded-Proto", proto)
        .header("X-Forwarded-Host", "files.example:8443")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (is_error, r) = tool_result(&v);
    assert!(!is_error, "{r}");
    r["url"].as_str().unwrap_or_default().to_string()
}

/// Behind a proxy the ticket URL names the address clients use, taken from
/// X-Forwarded-Proto/-Host only when the operator trusts them, and only an http or https
/// scheme is believed.
#[tokio::test]
async fn ticket_urls_follow_forwarded_headers_only_when_trusted() {
    let (l, s, rw) = setup("MYMCP_TRUST_FORWARDED=true\n").await;
    let dest = l.data().join("f.bin");
    for (proto, scheme) in [("https", "https"), ("http", "http"), ("gopher", "http")] {
        let url = ticket_url_behind_proxy(&s, &rw, &dest, proto).await;
        assert!(
            url.starts_with(&format!("{scheme}://files.example:8443/files/raw/")),
            "{proto}: {url}"
        );
    }
    // Control: the same headers are ignored when not trusted.
    let (l, s, rw) = setup("").await;
    let url = ticket_url_behind_proxy(&s, &rw, &l.data().join("f.bin"), "https").await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}
