//! The tool calls running now, by caller and JSON-RPC request id, so that a
//! `notifications/cancelled` can stop one.
//!
//! Over HTTP every request stands alone (rmcp's stateless mode): the notification arrives as
//! its own POST, possibly on another connection, and rmcp answers it 202 without looking at it.
//! The only link between the two is who sent them and the id, so that is the key. The caller
//! part keeps one caller from cancelling another's call by guessing ids; two clients sharing
//! one token and the same id are one caller to us, and a cancel stops both calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// (caller id, JSON-RPC request id as JSON text: `7` and `"7"` are different ids).
type Key = (String, String);

/// The calls under one key: a sequence number (to leave the table by) and the stop token.
type Entries = Vec<(u64, CancellationToken)>;

/// Calls in flight. Cheap to clone (one shared table).
#[derive(Clone, Default)]
pub(crate) struct InflightCalls {
    calls: Arc<Mutex<HashMap<Key, Entries>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

/// A registered call; leaving the table when dropped (the call ended).
pub(crate) struct Registration {
    table: InflightCalls,
    key: Key,
    seq: u64,
}

impl InflightCalls {
    /// Record that `caller_id` has call `request_id` running, stopped through `stop`.
    pub(crate) fn register(
        &self,
        caller_id: &str,
        request_id: &serde_json::Value,
        stop: CancellationToken,
    ) -> Registration {
        let key = (caller_id.to_string(), request_id.to_string());
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut m) = self.calls.lock() {
            m.entry(key.clone()).or_default().push((seq, stop));
        }
        Registration {
            table: self.clone(),
            key,
            seq,
        }
    }

    /// Stop `caller_id`'s calls with this id; how many were stopped (0: none such, finished
    /// already, or another caller's).
    pub(crate) fn cancel(&self, caller_id: &str, request_id: &serde_json::Value) -> usize {
        let key = (caller_id.to_string(), request_id.to_string());
        let Ok(m) = self.calls.lock() else { return 0 };
        m.get(&key).map_or(0, |v| {
            v.iter().for_each(|(_, t)| t.cancel());
            v.len()
        })
    }

    /// Calls in flight (for tests and logs).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.calls
            .lock()
            .map_or(0, |m| m.values().map(Vec::len).sum())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut m) = self.table.calls.lock()
            && let Some(v) = m.get_mut(&self.key)
        {
            v.retain(|(s, _)| *s != self.seq);
            if v.is_empty() {
                m.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_callers_own_call_with_that_exact_id_is_stopped() {
        let t = InflightCalls::default();
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        let ra = t.register("alice", &json!(7), a.clone());
        let _rb = t.register("bob", &json!(7), b.clone());
        assert_eq!(
            t.cancel("alice", &json!("7")),
            0,
            "a string id is another id"
        );
        assert_eq!(t.cancel("mallory", &json!(7)), 0);
        assert!(!a.is_cancelled() && !b.is_cancelled());
        assert_eq!(t.cancel("alice", &json!(7)), 1);
        assert!(a.is_cancelled() && !b.is_cancelled());
        drop(ra);
        assert_eq!(t.len(), 1, "a finished call leaves the table");
        assert_eq!(t.cancel("alice", &json!(7)), 0);
    }

    #[test]
    fn two_calls_under_one_key_are_both_stopped_and_leave_one_by_one() {
        let t = InflightCalls::default();
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        let ra = t.register("alice", &json!("x"), a.clone());
        let rb = t.register("alice", &json!("x"), b.clone());
        drop(ra);
        assert_eq!(t.len(), 1);
        assert_eq!(t.cancel("alice", &json!("x")), 1);
        assert!(!a.is_cancelled() && b.is_cancelled());
        drop(rb);
        assert_eq!(t.len(), 0);
    }
}
