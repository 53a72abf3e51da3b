"""What the real-client smoke scripts share: result counting and a temp-token server on port 0.
No MCP import here, so each script can use its own SDK version."""

import asyncio
import json
import os
import subprocess
import time
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


def live_in_group(pgid):
    """Pids of live (not zombie) processes in process group `pgid`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            out.append(int(name))
    return out


def abandoned_command(work, tag):
    """A command that writes its process group to `<tag>.pid`, then would touch `<tag>.marker`
    after 5 s; and a check that it was stopped: (command, stopped). `await stopped()` waits up to
    4 s for the group to be gone (without blocking the event loop, where the client closes its
    request), then says whether it is and the marker never appeared."""
    pid_file = os.path.join(work, f"{tag}.pid")
    marker = os.path.join(work, f"{tag}.marker")

    async def stopped():
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                pgid = int(open(pid_file).read().strip())
            except (OSError, ValueError):
                pgid = None
            if pgid is not None and not live_in_group(pgid):
                return not os.path.exists(marker)
            await asyncio.sleep(0.05)
        return False

    return f"echo $$ > {pid_file}; sleep 5; touch {marker}", stopped


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
