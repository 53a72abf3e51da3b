//! One-time transfer tickets and the slots that bound transfers in flight.
//!
//! Tickets are 144-bit random ids bound to the canonical path at mint, single use, swept on a
//! timer, at most [`MAX_LIVE_PER_TOKEN`] live per token. Minting is the `prepare_upload` /
//! `prepare_download` tools (`tools/transfer.rs`); redeeming is `http/transfer.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::now_unix;
use crate::error::ToolError;

/// Live tickets one token may hold.
pub(crate) const MAX_LIVE_PER_TOKEN: usize = 64;

/// Uploads and downloads streaming at once, server-wide. Each holds a few MiB of buffers and
/// one or two blocking threads; past this a redeem answers 503 with `Retry-After`.
pub(crate) const MAX_TRANSFERS: usize = 16;

/// Uploads and downloads streaming at once for the tickets of one token, so one caller cannot
/// take every transfer slot.
pub(crate) const MAX_TRANSFERS_PER_TOKEN: usize = 4;

/// A transfer whose client sends no body bytes, or reads none of ours, for this long is
/// dropped and its slot freed.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Upload or download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `PUT`.
    Upload,
    /// `GET`.
    Download,
}

impl Op {
    /// `upload` / `download`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Upload => "upload",
            Op::Download => "download",
        }
    }
}

/// One ticket.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    /// Upload or download.
    pub(crate) op: Op,
    /// Canonical path bound at mint.
    pub(crate) path: PathBuf,
    /// Upload cap.
    pub(crate) max_bytes: u64,
    /// Upload: refuse to replace an existing file.
    pub(crate) overwrite: bool,
    /// Unix seconds.
    pub(crate) expires_at: u64,
    /// Issuer token name.
    pub(crate) issuer_name: String,
    /// Issuer role.
    pub(crate) issuer_role: String,
    /// Issuer token id (for the per-token cap).
    pub(crate) issuer_id: String,
    /// Redeemed.
    pub(crate) consumed: bool,
    /// A GET is streaming it now (a download ticket serves one GET at a time).
    pub(crate) in_flight: bool,
}

/// Why a redeem was refused: (HTTP status, error code, hint).
pub(crate) type Refusal = (u16, &'static str, String);

/// All tickets, in memory only.
#[derive(Default)]
pub(crate) struct Tickets {
    map: Mutex<HashMap<String, Ticket>>,
}

fn new_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

impl Tickets {
    /// Drop expired tickets (consumed ones stay until they expire, to answer 410).
    pub(crate) fn sweep(&self) {
        let now = now_unix();
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, t| t.expires_at > now);
        }
    }

    /// Store a new ticket; refuses past the per-token cap.
    pub(crate) fn mint(&self, t: Ticket) -> Result<String, ToolError> {
        self.sweep();
        let mut m = self
            .map
            .lock()
            .map_err(|_| ToolError::Internal("ticket table poisoned".into()))?;
        let live = m
            .values()
            .filter(|x| x.issuer_id == t.issuer_id && !x.consumed)
            .count();
        if live >= MAX_LIVE_PER_TOKEN {
            return Err(ToolError::TooManyTickets(format!(
                "This token already holds {live} unused transfer tickets (limit {MAX_LIVE_PER_TOKEN}); \
                 use or let some expire first."
            )));
        }
        let id = new_id();
        m.insert(id.clone(), t);
        Ok(id)
    }

    /// Look a ticket up for `op`. With `consume`, it is marked used atomically. `issuer_active`
    /// says whether the minting token is still valid: a revoked token's tickets die with it.
    pub(crate) fn redeem(
        &self,
        id: &str,
        op: Op,
        consume: bool,
        issuer_active: impl Fn(&str) -> bool,
    ) -> Result<Ticket, Refusal> {
        self.with_live(id, op, issuer_active, |t| {
            if consume {
                t.consumed = true;
            }
            Ok(())
        })
    }

    /// Start a GET: refuses while another GET of the same ticket is streaming (each would
    /// hold its own buffers and thread).
    pub(crate) fn begin_get(
        &self,
        id: &str,
        issuer_active: impl Fn(&str) -> bool,
    ) -> Result<Ticket, Refusal> {
        self.with_live(id, Op::Download, issuer_active, |t| {
            if t.in_flight {
                return Err((
                    409,
                    "transfer_in_progress",
                    "Another download of this ticket is running; wait for it or mint a new ticket."
                        .into(),
                ));
            }
            t.in_flight = true;
            Ok(())
        })
    }

    /// Under one lock: find a usable ticket for `op` (unused, unexpired, right method, issuer
    /// still valid), apply `then` to it, and return a copy.
    fn with_live(
        &self,
        id: &str,
        op: Op,
        issuer_active: impl Fn(&str) -> bool,
        then: impl FnOnce(&mut Ticket) -> Result<(), Refusal>,
    ) -> Result<Ticket, Refusal> {
        let mut m = self
            .map
            .lock()
            .map_err(|_| (500, "internal", "ticket table poisoned".to_string()))?;
        let Some(t) = m.get_mut(id) else {
            return Err((404, "ticket_not_found", "Mint a new ticket.".into()));
        };
        if t.consumed {
            return Err((410, "ticket_not_found", "Ticket already used.".into()));
        }
        if t.expires_at <= now_unix() {
            return Err((410, "ticket_expired", "Mint a new ticket.".into()));
        }
        if t.op != op {
            let need = if t.op == Op::Upload { "PUT" } else { "GET" };
            return Err((405, "wrong_method", format!("This ticket requires {need}.")));
        }
        if !issuer_active(&t.issuer_id) {
            t.consumed = true;
            return Err((
                410,
                "ticket_revoked",
                "The token that minted this ticket was revoked or disabled.".into(),
            ));
        }
        then(t)?;
        Ok(t.clone())
    }

    /// A GET ended (completed or cut off).
    pub(crate) fn end_get(&self, id: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(t) = m.get_mut(id)
        {
            t.in_flight = false;
        }
    }

    /// Mark a download ticket used (after its last byte).
    pub(crate) fn consume(&self, id: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(t) = m.get_mut(id)
        {
            t.consumed = true;
        }
    }
}

/// Bounds on transfers streaming at once: [`MAX_TRANSFERS`] in all, [`MAX_TRANSFERS_PER_TOKEN`]
/// per minting token.
pub(crate) struct TransferSlots {
    sem: std::sync::Arc<tokio::sync::Semaphore>,
    per_token: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for TransferSlots {
    fn default() -> Self {
        TransferSlots {
            sem: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_TRANSFERS)),
            per_token: Default::default(),
        }
    }
}

/// A held transfer slot; freed on drop.
pub(crate) struct TransferPermit {
    _permit: tokio::sync::OwnedSemaphorePermit,
    per_token: std::sync::Arc<Mutex<HashMap<String, usize>>>,
    issuer: String,
}

impl Drop for TransferPermit {
    fn drop(&mut self) {
        if let Ok(mut m) = self.per_token.lock()
            && let Some(n) = m.get_mut(&self.issuer)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.issuer);
            }
        }
    }
}

impl TransferSlots {
    /// Take a slot for a transfer of `issuer`'s ticket, or say why not (503).
    pub(crate) fn try_acquire(&self, issuer: &str) -> Result<TransferPermit, Refusal> {
        let busy = |why: String| (503, "busy", why);
        let mut m = self
            .per_token
            .lock()
            .map_err(|_| (500, "internal", "transfer table poisoned".to_string()))?;
        let n = m.get(issuer).copied().unwrap_or(0);
        if n >= MAX_TRANSFERS_PER_TOKEN {
            return Err(busy(format!(
                "{n} transfers of this token's tickets are running (limit {MAX_TRANSFERS_PER_TOKEN}); retry when one ends."
            )));
        }
        let permit = self.sem.clone().try_acquire_owned().map_err(|_| {
            busy(format!(
                "{MAX_TRANSFERS} transfers are running on this server; retry shortly."
            ))
        })?;
        m.insert(issuer.to_string(), n + 1);
        Ok(TransferPermit {
            _permit: permit,
            per_token: self.per_token.clone(),
            issuer: issuer.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(issuer: &str, expires_at: u64) -> Ticket {
        Ticket {
            op: Op::Upload,
            path: PathBuf::from("/tmp/x"),
            max_bytes: 1,
            overwrite: false,
            expires_at,
            issuer_name: issuer.into(),
            issuer_role: "rw".into(),
            issuer_id: issuer.into(),
            consumed: false,
            in_flight: false,
        }
    }

    /// Expired tickets leave the table when the next one is minted, so they neither hold
    /// memory nor count against their token's cap; a ticket is expired from its
    /// `expires_at` second on, as `with_live` treats it.
    #[test]
    fn expired_tickets_are_swept_and_do_not_count_against_the_cap() {
        let tickets = Tickets::default();
        for _ in 0..MAX_LIVE_PER_TOKEN {
            tickets.mint(ticket("a", now_unix() - 10)).unwrap();
        }
        tickets.mint(ticket("a", now_unix() + 60)).unwrap();
        for _ in 0..MAX_LIVE_PER_TOKEN {
            tickets.mint(ticket("b", now_unix())).unwrap();
        }
        tickets.mint(ticket("b", now_unix() + 60)).unwrap();
        // Control: live tickets do count, and the cap holds.
        for _ in 1..MAX_LIVE_PER_TOKEN {
            tickets.mint(ticket("a", now_unix() + 60)).unwrap();
        }
        assert!(matches!(
            tickets.mint(ticket("a", now_unix() + 60)),
            Err(ToolError::TooManyTickets(_))
        ));
    }

    /// A finished transfer gives its token's slot back, and only that one: the per-token
    /// cap still holds afterwards, and a token with nothing running leaves no entry behind.
    #[test]
    fn a_dropped_permit_frees_one_slot_of_its_token() {
        let slots = TransferSlots::default();
        let mut held: Vec<_> = (0..MAX_TRANSFERS_PER_TOKEN)
            .map(|_| slots.try_acquire("a").unwrap())
            .collect();
        assert_eq!(slots.try_acquire("a").err().map(|r| r.0), Some(503));
        let other = slots.try_acquire("b").unwrap();
        held.pop();
        held.push(slots.try_acquire("a").unwrap());
        assert_eq!(slots.try_acquire("a").err().map(|r| r.0), Some(503));
        drop(held);
        drop(other);
        assert!(slots.per_token.lock().unwrap().is_empty());
    }
}
