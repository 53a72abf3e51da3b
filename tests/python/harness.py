"""What the real-client smoke scripts share: result counting and a temp-token server on port 0.
No MCP import here, so each script can use its own SDK version."""

import json
import os
import subprocess
import urllib.request

RESULTS = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")


def summary():
    """Print the totals; the exit status for sys.exit."""
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("MYMCP_")}


def start(binary, workdir, env=None):
    """`mymcp serve` in temp-token mode on 127.0.0.1 port 0: (process, tokens, host:port).
    `env`: extra process environment (for example MYMCP_TLS_CERT/KEY)."""
    proc = subprocess.Popen(
        [binary, "serve", "--port", "0"],
        cwd=workdir,
        env={**clean_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    tokens, addr = {}, None
    for line in proc.stderr:
        if "temp admin token:" in line:
            tokens["admin"] = line.split()[-1]
        elif "temp rw token:" in line:
            tokens["rw"] = line.split()[-1]
        elif line.startswith("[mymcp] serving on "):
            addr = line.split()[-1]
            break
    if addr is None:
        proc.kill()
        raise SystemExit("server did not start")
    return proc, tokens, addr


def self_signed(work):
    """A P-256 certificate for 127.0.0.1 made by openssl, key mode 0600: (cert, key) paths."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    os.chmod(key, 0o600)
    return cert, key


def make_token(addr, admin, name, role):
    """A client token from the admin API."""
    req = urllib.request.Request(
        f"http://{addr}/admin/tokens",
        data=json.dumps({"name": name, "role": role}).encode(),
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        method="POST",
    )
    return json.loads(urllib.request.urlopen(req).read())["token"]


def stdio_env_file(work):
    """An env file for `mymcp stdio`, in a directory of its own (the env file's directory is
    protected, so the files a test reads must live elsewhere)."""
    etc = os.path.join(work, "etc")
    os.makedirs(etc, 0o700, exist_ok=True)
    path = os.path.join(etc, "stdio.env")
    with open(path, "w") as f:
        f.write("MYMCP_LOG_LEVEL=warning\n")
    os.chmod(path, 0o600)
    return path
