//! The Kerberos exchange: target name, context steps off the async runtime, and the verdict
//! on mutual authentication.
//!
//! Tokens are raw Kerberos (`GSS_MECH_KRB5`), never SPNEGO: Aurora refuses SPNEGO tokens.
//! Every step may reach the KDC (the first one asks for the service ticket), and MIT's KDC
//! transport can block for 27 s, so the first step (the one that may talk to the KDC) runs on
//! the blocking pool under `kdc_timeout`.

use crate::credentials::Current;
use crate::error::{Error, GssSite, Kind, from_gss, from_gss_service_ticket};
use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE};
use std::future::Future;
use std::time::Duration;

/// The GSS flags a finished exchange was granted, as reported by the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GssFlags(pub u32);

impl GssFlags {
    /// The server proved its identity (AP-REP received and verified).
    pub fn mutual(self) -> bool {
        self.0 & CtxFlags::GSS_C_MUTUAL_FLAG.bits() != 0
    }
    /// Names of the flags set, e.g. `["MUTUAL", "INTEG", "CONF"]`.
    pub fn names(self) -> Vec<&'static str> {
        let f = CtxFlags::from_bits_truncate(self.0);
        let all = [
            (CtxFlags::GSS_C_DELEG_FLAG, "DELEG"),
            (CtxFlags::GSS_C_MUTUAL_FLAG, "MUTUAL"),
            (CtxFlags::GSS_C_REPLAY_FLAG, "REPLAY"),
            (CtxFlags::GSS_C_SEQUENCE_FLAG, "SEQUENCE"),
            (CtxFlags::GSS_C_CONF_FLAG, "CONF"),
            (CtxFlags::GSS_C_INTEG_FLAG, "INTEG"),
            (CtxFlags::GSS_C_ANON_FLAG, "ANON"),
            (CtxFlags::GSS_C_TRANS_FLAG, "TRANS"),
        ];
        all.iter()
            .filter(|(b, _)| f.contains(*b))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Flags for authentication only (libpq asks for mutual authentication alone).
pub(crate) const AUTH_FLAGS: CtxFlags = CtxFlags::GSS_C_MUTUAL_FLAG;
/// Flags for GSS encryption, as libpq asks.
pub(crate) const ENC_FLAGS: CtxFlags = CtxFlags::GSS_C_MUTUAL_FLAG
    .union(CtxFlags::GSS_C_REPLAY_FLAG)
    .union(CtxFlags::GSS_C_SEQUENCE_FLAG)
    .union(CtxFlags::GSS_C_CONF_FLAG)
    .union(CtxFlags::GSS_C_INTEG_FLAG);

/// `flags` with `GSS_C_DELEG_FLAG` when `gssdelegation=1` asks for it; never otherwise: a
/// server holding the user's forwarded ticket-granting ticket can act as the user.
pub(crate) fn with_delegation(flags: CtxFlags, delegate: bool) -> CtxFlags {
    if delegate {
        flags | CtxFlags::GSS_C_DELEG_FLAG
    } else {
        flags
    }
}

/// The login asked for delegation (`gssdelegation=1`) and the finished context says the
/// credential was not delegated: MIT leaves the flag out, silently, when the ticket-granting
/// ticket is not forwardable. libpq then goes on without delegating; the application that
/// asked would only find out when the server cannot log in elsewhere as the user.
fn not_delegated() -> Error {
    Error::config(
        "gssdelegation=1, but the Kerberos credential was not delegated: its ticket-granting \
         ticket is not forwardable (or krb5.conf's enforce_ok_as_delegate refuses this server)",
        "get a forwardable ticket: kinit -f for a credential cache, or forwardable = true in \
         the [libdefaults] of krb5.conf for keytab and password credentials (and kinit's \
         default); or set gssdelegation=0",
    )
    .with_setting("gssdelegation")
}

/// An exchange already finished elsewhere (GSS encryption authenticated the client).
pub(crate) struct Done(pub GssFlags);

impl Initiator for Done {
    async fn step(&mut self, _: Vec<u8>) -> Result<Option<Vec<u8>>, Error> {
        Err(Error::protocol(
            "the server sent a Kerberos token on a GSS-encrypted connection",
        ))
    }
    fn is_complete(&self) -> bool {
        true
    }
    fn flags(&self) -> GssFlags {
        self.0
    }
}

/// The client side of the exchange as the authentication loop sees it; a trait so the loop
/// can be tested against a scripted peer.
pub(crate) trait Initiator: Send {
    /// Feeds the server's token; returns the token to send, if any.
    fn step(
        &mut self,
        token: Vec<u8>,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;
    /// Whether the context is established.
    fn is_complete(&self) -> bool;
    /// The flags granted so far.
    fn flags(&self) -> GssFlags;
}

/// A Kerberos context with its first token computed (the service ticket is in hand).
pub struct GssStart {
    ctx: Option<ClientCtx>,
    pub(crate) first_token: Vec<u8>,
    pub(crate) site: GssSite,
    pub(crate) principal: String,
    flags: GssFlags,
    complete: bool,
    /// Delegation was asked for (`gssdelegation=1`).
    delegate: bool,
}

impl std::fmt::Debug for GssStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GssStart")
            .field("service", &self.site.service)
            .field("principal", &self.principal)
            .field("first_token_len", &self.first_token.len())
            .finish_non_exhaustive()
    }
}

impl GssStart {
    /// The client principal logging in.
    pub fn principal(&self) -> &str {
        &self.principal
    }
    /// The service principal asked for, as the KDC sees it (`postgres/host`).
    pub fn service_principal(&self) -> &str {
        &self.site.service
    }
    pub(crate) fn into_ctx(self) -> Option<ClientCtx> {
        self.ctx
    }
    /// Size of the first token (the AP-REQ); large AD tickets make it tens of kB.
    pub fn first_token_len(&self) -> usize {
        self.first_token.len()
    }
}

/// `krbsrvname@host` as a GSS host-based name, and the same as the KDC spells it.
pub(crate) fn service_names(srvname: &str, host: &str) -> (String, String) {
    (format!("{srvname}@{host}"), format!("{srvname}/{host}"))
}

/// Creates the context and runs its first step, which fetches the service ticket unless the
/// credential's cache already holds it.
pub(crate) async fn start(
    cred: &Current,
    hostbased: &str,
    mut site: GssSite,
    kdc_timeout: Duration,
    flags: CtxFlags,
) -> Result<GssStart, Error> {
    site.client = Some(cred.principal.clone());
    let delegate = flags.contains(CtxFlags::GSS_C_DELEG_FLAG);
    let cred_handle = cred.cred.clone();
    let target = hostbased.to_string();
    let site2 = site.clone();
    let task = move || {
        let name = Name::new(target.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
            .map_err(|e| from_gss(e.major.bits(), e.minor, e.to_string(), &site2))?;
        let mut ctx = ClientCtx::new(Some(cred_handle), name, flags, Some(GSS_MECH_KRB5));
        let tok = ctx.step(None, None).map_err(|e| {
            // This step asks the KDCs for the service ticket: the realm of the host tells a
            // failure across a trust from one inside a realm.
            let host = site2.service.split_once('/').map_or("", |(_, h)| h);
            let realm = crate::ffi::host_realm(host);
            from_gss_service_ticket(
                e.major.bits(),
                e.minor,
                e.to_string(),
                &site2,
                realm.as_deref(),
            )
        })?;
        let flags = GssFlags(ctx.flags().map(|f| f.bits()).unwrap_or(0));
        let complete = ctx.is_complete();
        Ok::<_, Error>((ctx, tok.map(|b| b.to_vec()), flags, complete))
    };
    // Bounded in time and in number (see `credentials::run_blocking`).
    let (ctx, tok, flags, complete) =
        crate::credentials::run_blocking(&cred.calls, kdc_timeout, "Kerberos", task).await??;
    if complete && delegate && flags.0 & CtxFlags::GSS_C_DELEG_FLAG.bits() == 0 {
        return Err(not_delegated());
    }
    let first_token = tok.ok_or_else(|| {
        Error::new(Kind::Gss {
            detail: "the Kerberos library produced no initial token".into(),
        })
    })?;
    Ok(GssStart {
        ctx: Some(ctx),
        first_token,
        principal: cred.principal.clone(),
        site,
        flags,
        complete,
        delegate,
    })
}

impl Initiator for GssStart {
    async fn step(&mut self, token: Vec<u8>) -> Result<Option<Vec<u8>>, Error> {
        let mut ctx = self.ctx.take().ok_or_else(|| {
            Error::protocol("the server sent a Kerberos token after the exchange failed")
        })?;
        // Unlike the first step, this one only checks the server's AP-REP with the session
        // key the context already holds: no KDC, no cache file, a few microseconds of CPU.
        // Running it inline spares two thread hand-offs per login.
        let r = ctx
            .step(Some(&token), None)
            .map(|o| o.map(|b| b.to_vec()))
            .map_err(|e| from_gss(e.major.bits(), e.minor, e.to_string(), &self.site));
        let flags = GssFlags(ctx.flags().map(|f| f.bits()).unwrap_or(0));
        let complete = ctx.is_complete();
        self.ctx = Some(ctx);
        self.flags = flags;
        self.complete = complete;
        // The flags are final only once the context is complete (MIT reports none before).
        if r.is_ok()
            && complete
            && self.delegate
            && flags.0 & CtxFlags::GSS_C_DELEG_FLAG.bits() == 0
        {
            return Err(not_delegated());
        }
        r
    }
    fn is_complete(&self) -> bool {
        self.complete
    }
    fn flags(&self) -> GssFlags {
        self.flags
    }
}
