//! Who is calling: the identity a request authenticated as, its role and where it came from.
//! Put into each `/mcp` request by the auth middleware; read by the MCP handler, the tools
//! (ticket issuer, base URL) and the audit log.

use std::net::IpAddr;

use crate::tokens::Role;

/// How the caller proved who it is: a static bearer token, or the operating-system user who
/// started `mymcp stdio`. Everything that names a caller (audit lines, metrics, logs, ticket
/// issuers) goes through [`Identity::name`] and [`Identity::id`].
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// A client token from the token file (or temp-token mode).
    StaticToken {
        /// The token's name, as the admin gave it.
        name: String,
        /// Its public id (a short hash), never the token itself.
        id: String,
    },
    /// The OS user running `mymcp stdio`, named `stdio:<user>`: the kernel already vouched for
    /// it, and it can do no more than that user could without mymcp.
    Local {
        /// `stdio:<user>`.
        name: String,
    },
    /// An OAuth access token from the configured issuer, named `oauth:<sub>`: the subject is
    /// the same person or service on every host that trusts the issuer.
    OAuth {
        /// `oauth:<sub>`.
        name: String,
        /// The client the token was issued to (`client_id` or `azp`), when it says.
        client_id: Option<String>,
    },
}

impl Identity {
    /// The name audit lines and logs show (`token_name`).
    pub(crate) fn name(&self) -> &str {
        match self {
            Identity::StaticToken { name, .. }
            | Identity::Local { name }
            | Identity::OAuth { name, .. } => name,
        }
    }

    /// A stable id, used to count per-caller limits (tickets, transfers) and to check that the
    /// issuer of a ticket is still allowed in.
    pub(crate) fn id(&self) -> &str {
        match self {
            Identity::StaticToken { id, .. } => id,
            Identity::Local { name } | Identity::OAuth { name, .. } => name,
        }
    }

    /// The OAuth client the caller used, when it came with an OAuth token that names one.
    pub(crate) fn client_id(&self) -> Option<&str> {
        match self {
            Identity::OAuth { client_id, .. } => client_id.as_deref(),
            _ => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Who.
    pub(crate) identity: Identity,
    /// What they may do.
    pub(crate) role: Role,
    /// Peer address.
    pub(crate) ip: IpAddr,
    /// `X-Request-ID` (validated) or a generated one.
    pub(crate) request_id: String,
    /// `scheme://host[:port]` this request reached us at (for absolute ticket URLs).
    pub(crate) base_url: String,
}
