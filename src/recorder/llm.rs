//! Two LLM dialects over HTTPS (rustls): Anthropic's Messages API and OpenAI-compatible chat
//! completions. One request shape in, one reply shape out; timeouts and retries here, answer
//! validation in the caller.

use std::time::Duration;

use serde_json::{Value, json};

use crate::secret::Secret;

/// Which API dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// `POST {base}/v1/messages`, `x-api-key`.
    Anthropic,
    /// `POST {base}/chat/completions`, `Authorization: Bearer`.
    OpenAi,
}

impl Provider {
    /// Parse `MYMCP_RECORDER_LLM_PROVIDER`.
    pub(crate) fn parse(s: &str) -> Option<Provider> {
        match s.trim().to_ascii_lowercase().as_str() {
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::OpenAi),
            _ => None,
        }
    }

    /// Name for logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        }
    }

    /// Model used when `MYMCP_RECORDER_LLM_MODEL` is unset.
    pub(crate) fn default_model(self) -> &'static str {
        match self {
            Provider::Anthropic => "claude-sonnet-4-5",
            Provider::OpenAi => "gpt-4.1-mini",
        }
    }

    /// Base URL used when `MYMCP_RECORDER_LLM_BASE_URL` is unset (SDK conventions: the
    /// OpenAI base includes `/v1`, the Anthropic one does not).
    pub(crate) fn default_base_url(self) -> &'static str {
        match self {
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::OpenAi => "https://api.openai.com/v1",
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub(crate) struct LlmConfig {
    /// Dialect.
    pub(crate) provider: Provider,
    /// Model id.
    pub(crate) model: String,
    /// API key (never logged).
    pub(crate) api_key: Secret,
    /// Base URL without trailing slash.
    pub(crate) base_url: String,
    /// Output ceiling per call.
    pub(crate) max_tokens: u64,
    /// Whole-request timeout.
    pub(crate) timeout: Duration,
    /// Extra attempts after a transport error, a timeout, 429 or 5xx.
    pub(crate) retries: u32,
    /// First backoff (doubles each retry).
    pub(crate) backoff: Duration,
}

/// A usable HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// Concatenated text blocks.
    pub(crate) text: String,
    /// Prompt tokens reported by the API.
    pub(crate) input_tokens: u64,
    /// Output tokens reported by the API.
    pub(crate) output_tokens: u64,
    /// The model stopped at `max_tokens` (the text is cut off).
    pub(crate) truncated: bool,
}

/// Why a call produced no reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LlmError {
    /// The API answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// Status code.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// Connection, TLS or timeout.
    #[error("request failed: {0}")]
    Transport(String),
    /// 2xx, but not the JSON shape of the dialect.
    #[error("unexpected response: {0}")]
    BadResponse(String),
}

impl LlmError {
    fn retryable(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            LlmError::Transport(_) => true,
            LlmError::BadResponse(_) => false,
        }
    }
}

/// One attempt's outcome, for metrics (`success` = a response object came back).
pub(crate) type AttemptHook<'a> = &'a (dyn Fn(bool) + Send + Sync);

/// HTTP client for one provider.
#[derive(Debug, Clone)]
pub(crate) struct LlmClient {
    cfg: LlmConfig,
    http: reqwest::Client,
}

impl LlmClient {
    /// Build the client (rustls, no proxy surprises: reqwest honours HTTPS_PROXY).
    pub(crate) fn new(cfg: LlmConfig) -> Result<LlmClient, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mymcp-recorder/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        Ok(LlmClient { cfg, http })
    }

    /// Send one system + user message; retries transient failures with backoff.
    pub(crate) async fn complete(
        &self,
        system: &str,
        user: &str,
        on_attempt: AttemptHook<'_>,
    ) -> Result<Reply, LlmError> {
        let mut delay = self.cfg.backoff;
        let mut attempt = 0;
        loop {
            let res = self.once(system, user).await;
            on_attempt(res.is_ok());
            match res {
                Err(e) if e.retryable() && attempt < self.cfg.retries => {
                    tracing::warn!(error = %e, attempt, "LLM call failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once(&self, system: &str, user: &str) -> Result<Reply, LlmError> {
        let c = &self.cfg;
        let base = c.base_url.trim_end_matches('/');
        let req = match c.provider {
            Provider::Anthropic => self
                .http
                .post(format!("{base}/v1/messages"))
                .header("x-api-key", c.api_key.expose())
                .header("anthropic-version", "2023-06-01")
                .json(&json!({
                    "model": c.model,
                    "max_tokens": c.max_tokens,
                    "system": system,
                    "messages": [{"role": "user", "content": user}],
                })),
            Provider::OpenAi => self
                .http
                .post(format!("{base}/chat/completions"))
                .bearer_auth(c.api_key.expose())
                .json(&json!({
                    "model": c.model,
                    "max_tokens": c.max_tokens,
                    "messages": [
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                })),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| LlmError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| LlmError::Transport(error_chain(&e)))?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body);
            return Err(LlmError::Status {
                status,
                body: text.chars().take(300).collect(),
            });
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| LlmError::BadResponse(format!("not JSON: {e}")))?;
        parse_reply(c.provider, &v)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// Pull text, usage and the stop reason out of a dialect's response body.
pub(crate) fn parse_reply(provider: Provider, v: &Value) -> Result<Reply, LlmError> {
    match provider {
        Provider::Anthropic => {
            let blocks = v["content"]
                .as_array()
                .ok_or_else(|| LlmError::BadResponse("no content array".into()))?;
            let text = blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("");
            Ok(Reply {
                text,
                input_tokens: v["usage"]["input_tokens"].as_u64().unwrap_or(0),
                output_tokens: v["usage"]["output_tokens"].as_u64().unwrap_or(0),
                truncated: v["stop_reason"] == "max_tokens",
            })
        }
        Provider::OpenAi => {
            let choice = &v["choices"][0];
            if choice.is_null() {
                return Err(LlmError::BadResponse("no choices".into()));
            }
            Ok(Reply {
                text: choice["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                input_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                truncated: choice["finish_reason"] == "length",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_parse() {
        let a = json!({"content":[{"type":"text","text":"he"},{"type":"text","text":"llo"}],
            "stop_reason":"max_tokens","usage":{"input_tokens":7,"output_tokens":3}});
        let r = parse_reply(Provider::Anthropic, &a).unwrap();
        assert_eq!(
            (
                r.text.as_str(),
                r.input_tokens,
                r.output_tokens,
                r.truncated
            ),
            ("hello", 7, 3, true)
        );
        let o = json!({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":5,"completion_tokens":1}});
        let r = parse_reply(Provider::OpenAi, &o).unwrap();
        assert_eq!(
            (r.text.as_str(), r.input_tokens, r.truncated),
            ("hi", 5, false)
        );
        assert!(parse_reply(Provider::OpenAi, &json!({})).is_err());
        assert!(parse_reply(Provider::Anthropic, &json!({"x":1})).is_err());
    }
}
