# shellcheck shell=bash
# Shared helpers for the bench scripts (sourced, not run). Expects WORK and RW/ADMIN set.

# write_post_lua FILE: the wrk script every load test uses: POST of $BODY to the URL with the
# MCP headers and the bearer token $TOKEN (both read from the environment by wrk).
write_post_lua() {
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = os.getenv("BODY")
LUA
}

# Download the reference binary (algony-mymcp 3.1.0) into $WORK/ref; prints its path.
fetch_reference() {
  python3 -m pip download --quiet --no-deps -d "$WORK/ref" algony-mymcp==3.1.0
  (cd "$WORK/ref" && python3 -m zipfile -e ./*.whl .)
  chmod +x "$WORK/ref/algony_mymcp-3.1.0.data/scripts/mymcp"
  echo "$WORK/ref/algony_mymcp-3.1.0.data/scripts/mymcp"
}

# start_server NAME PORT BINARY [EXTRA_ENV_LINES]: config in $WORK/NAME, waits for /health.
start_server() {
  local d=$WORK/$1; mkdir -p "$d"
  echo "{\"tokens\":{\"$RW\":{\"name\":\"bench\",\"created_at\":\"x\",\"last_used\":null,\"enabled\":true,\"role\":\"rw\"}}}" > "$d/tokens.json"
  printf 'MYMCP_HOST=127.0.0.1\nMYMCP_PORT=%s\nMYMCP_ADMIN_TOKEN=%s\nMYMCP_TOKEN_FILE=%s\nMYMCP_AUDIT_LOG_DIR=%s\n%s\n' \
    "$2" "$ADMIN" "$d/tokens.json" "$d/log" "${4:-}" > "$d/.env"
  env -u MYMCP_ENV_FILE "$3" serve -env-file "$d/.env" >/dev/null 2>&1 &
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/health" >/dev/null && break; sleep 0.05; done
}

# tool_call PORT TOOL ARGS_JSON: prints the tool's result JSON (the text content).
tool_call() {
  curl -fsS "http://127.0.0.1:$1/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $RW" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}" \
    | sed -n '/^data: /{s/^data: //p;q;}; /^{/{p;q;}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["content"][0]["text"])'
}
