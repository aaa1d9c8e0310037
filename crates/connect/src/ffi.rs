//! The one place with `unsafe`: `gss_acquire_cred_from`, which libgssapi does not wrap.
//!
//! It lets a credential come from a named cache, a client keytab or a password into a
//! private `MEMORY:` cache, all through a "credential store" argument, without setting
//! `KRB5CCNAME` or `KRB5_CLIENT_KTNAME`, which are process-wide and would race between
//! connectors and threads.

use libgssapi::credential::Cred;
use libgssapi::oid::GSS_NT_KRB5_PRINCIPAL;
use libgssapi_sys::{
    GSS_C_INITIATE, GSS_S_COMPLETE, OM_uint32, gss_OID_desc, gss_acquire_cred_from,
    gss_buffer_desc, gss_cred_id_t, gss_cred_usage_t, gss_import_name, gss_key_value_element_desc,
    gss_key_value_set_desc, gss_name_t, gss_release_name,
};
use std::ffi::CString;
use std::ptr;

/// A GSSAPI failure as (major, minor) status.
pub(crate) type Status = (u32, u32);

/// Acquires initiator credentials for `principal` (the default one when `None`) from the
/// credential store `store` (pairs such as `("ccache", "MEMORY:x")`,
/// `("client_keytab", "FILE:/k")`, `("password", ...)`).
///
/// Blocks: with a keytab or password it may talk to the KDC.
pub(crate) fn acquire_cred_from(
    principal: Option<&str>,
    store: &[(&str, &str)],
) -> Result<Cred, Status> {
    // Keys and values must outlive the call; CString also rejects interior NULs, which would
    // otherwise silently cut a path or password short.
    let mut owned: Vec<(CString, CString)> = Vec::with_capacity(store.len());
    for (k, v) in store {
        let k = CString::new(*k).map_err(|_| (GSS_BAD_NAME, 0))?;
        let v = CString::new(*v).map_err(|_| (GSS_BAD_NAME, 0))?;
        owned.push((k, v));
    }
    let mut elements: Vec<gss_key_value_element_desc> = owned
        .iter()
        .map(|(k, v)| gss_key_value_element_desc {
            key: k.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    let set = gss_key_value_set_desc {
        count: elements.len() as OM_uint32,
        elements: elements.as_mut_ptr(),
    };

    let name = match principal {
        Some(p) => Some(ImportedName::new(p)?),
        None => None,
    };

    let mut minor: OM_uint32 = GSS_S_COMPLETE;
    let mut cred: gss_cred_id_t = ptr::null_mut();
    // SAFETY: every pointer passed lives until the call returns: `set` points into
    // `elements`, whose entries point into `owned`; the name (or null for the default) is
    // owned by `name`. Null for desired mechanisms and the two optional outputs is allowed
    // by RFC 2744. On success `cred` is a fresh handle we own.
    let major = unsafe {
        gss_acquire_cred_from(
            &mut minor,
            name.as_ref().map_or(ptr::null_mut(), |n| n.0),
            0xffff_ffff, // GSS_C_INDEFINITE: as long as the ticket lasts
            ptr::null_mut(),
            GSS_C_INITIATE as gss_cred_usage_t,
            &set,
            &mut cred,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    // The password must not linger in our heap longer than the call.
    for (_, v) in owned.iter_mut() {
        wipe(v);
    }
    if major != GSS_S_COMPLETE {
        return Err((major, minor));
    }
    // SAFETY: `cred` is a valid handle just returned to us and not yet wrapped, so
    // `Cred` becomes its only owner and releases it once.
    Ok(unsafe { Cred::from_c(cred) })
}

const GSS_BAD_NAME: u32 = 2 << 16;

fn wipe(s: &mut CString) {
    let taken = std::mem::take(s);
    let mut bytes = taken.into_bytes_with_nul();
    for b in bytes.iter_mut() {
        // Volatile so the compiler cannot drop the writes to memory about to be freed.
        // SAFETY: `b` is a valid, aligned, exclusive reference into `bytes`.
        unsafe { ptr::write_volatile(b, 0) };
    }
}

struct ImportedName(gss_name_t);

impl ImportedName {
    fn new(principal: &str) -> Result<ImportedName, Status> {
        let mut buf = gss_buffer_desc {
            length: principal.len(),
            value: principal.as_ptr() as *mut _,
        };
        // The OID's bytes are static (libgssapi's constant), as RFC 2744 requires.
        let oid_bytes: &'static [u8] = &GSS_NT_KRB5_PRINCIPAL;
        let mut oid = gss_OID_desc {
            length: oid_bytes.len() as OM_uint32,
            elements: oid_bytes.as_ptr() as *mut _,
        };
        let mut minor = GSS_S_COMPLETE;
        let mut name: gss_name_t = ptr::null_mut();
        // SAFETY: `buf` describes `principal`'s bytes, which gss_import_name copies and does
        // not write; `oid` points to static bytes; `name` receives a handle we own and
        // release in Drop.
        let major = unsafe { gss_import_name(&mut minor, &mut buf, &mut oid, &mut name) };
        if major != GSS_S_COMPLETE {
            return Err((major, minor));
        }
        Ok(ImportedName(name))
    }
}

impl Drop for ImportedName {
    fn drop(&mut self) {
        let mut minor = GSS_S_COMPLETE;
        // SAFETY: the handle came from gss_import_name and is released exactly once.
        unsafe { gss_release_name(&mut minor, &mut self.0) };
    }
}

/// MIT krb5 calls that GSSAPI does not offer: destroying a `MEMORY:` credential cache.
mod krb5 {
    use std::ffi::{c_char, c_void};

    #[link(name = "krb5")]
    unsafe extern "C" {
        pub(super) fn krb5_init_context(context: *mut *mut c_void) -> i32;
        pub(super) fn krb5_free_context(context: *mut c_void);
        pub(super) fn krb5_cc_resolve(
            context: *mut c_void,
            name: *const c_char,
            cache: *mut *mut c_void,
        ) -> i32;
        pub(super) fn krb5_cc_destroy(context: *mut c_void, cache: *mut c_void) -> i32;
        pub(super) fn krb5_cc_close(context: *mut c_void, cache: *mut c_void) -> i32;
        #[cfg(test)]
        pub(super) fn krb5_cc_get_principal(
            context: *mut c_void,
            cache: *mut c_void,
            principal: *mut *mut c_void,
        ) -> i32;
        #[cfg(test)]
        pub(super) fn krb5_free_principal(context: *mut c_void, principal: *mut c_void);
        #[cfg(test)]
        pub(super) fn krb5_parse_name(
            context: *mut c_void,
            name: *const c_char,
            principal: *mut *mut c_void,
        ) -> i32;
        #[cfg(test)]
        pub(super) fn krb5_cc_initialize(
            context: *mut c_void,
            cache: *mut c_void,
            principal: *mut c_void,
        ) -> i32;
    }
}

/// A krb5 context and one resolved cache, released on drop.
struct ResolvedCache {
    context: *mut std::ffi::c_void,
    cache: *mut std::ffi::c_void,
}

impl ResolvedCache {
    fn open(name: &str) -> Option<ResolvedCache> {
        let cname = CString::new(name).ok()?;
        let mut context = ptr::null_mut();
        // SAFETY: `context` receives a new context we own (freed in Drop, or here on the
        // failure path, where it is null or valid).
        if unsafe { krb5::krb5_init_context(&mut context) } != 0 {
            return None;
        }
        let mut cache = ptr::null_mut();
        // SAFETY: `context` is valid; `cname` lives across the call; `cache` receives a
        // handle we own and close (or destroy) exactly once.
        if unsafe { krb5::krb5_cc_resolve(context, cname.as_ptr(), &mut cache) } != 0 {
            // SAFETY: the context is valid and freed once.
            unsafe { krb5::krb5_free_context(context) };
            return None;
        }
        Some(ResolvedCache { context, cache })
    }
}

impl Drop for ResolvedCache {
    fn drop(&mut self) {
        // SAFETY: both handles came from `open`; `cache` is null once destroyed.
        unsafe {
            if !self.cache.is_null() {
                krb5::krb5_cc_close(self.context, self.cache);
            }
            krb5::krb5_free_context(self.context);
        }
    }
}

/// Destroys the credential cache `name` (a private `MEMORY:` cache): its tickets are
/// wiped and its memory freed. MIT keeps a `MEMORY:` cache for the life of the process
/// otherwise. Handles still open elsewhere stay valid (MIT counts them) and find it empty.
pub(crate) fn destroy_cache(name: &str) -> bool {
    let Some(mut c) = ResolvedCache::open(name) else {
        return false;
    };
    // SAFETY: `c.cache` is a valid handle; krb5_cc_destroy releases it whatever it returns,
    // so it is nulled for Drop.
    let code = unsafe { krb5::krb5_cc_destroy(c.context, c.cache) };
    c.cache = ptr::null_mut();
    code == 0
}

/// Whether the cache `name` holds credentials of some principal (is initialised). Resolving
/// a `MEMORY:` name creates it, so for tests only.
#[cfg(test)]
pub(crate) fn cache_in_use(name: &str) -> bool {
    let Some(c) = ResolvedCache::open(name) else {
        return false;
    };
    let mut principal = ptr::null_mut();
    // SAFETY: valid context and cache; `principal` receives a principal we free once.
    let code = unsafe { krb5::krb5_cc_get_principal(c.context, c.cache, &mut principal) };
    if code == 0 {
        // SAFETY: `principal` was just returned to us.
        unsafe { krb5::krb5_free_principal(c.context, principal) };
    }
    code == 0
}

/// Initialises the cache `name` for `principal` (empty of tickets); for tests of the
/// cache's life.
#[cfg(test)]
pub(crate) fn init_cache(name: &str, principal: &str) -> bool {
    let Some(c) = ResolvedCache::open(name) else {
        return false;
    };
    let Ok(p) = CString::new(principal) else {
        return false;
    };
    let mut parsed = ptr::null_mut();
    // SAFETY: valid context; `p` lives across the call; `parsed` is freed once below.
    if unsafe { krb5::krb5_parse_name(c.context, p.as_ptr(), &mut parsed) } != 0 {
        return false;
    }
    // SAFETY: valid context, cache and principal.
    let code = unsafe { krb5::krb5_cc_initialize(c.context, c.cache, parsed) };
    // SAFETY: `parsed` came from krb5_parse_name and is freed once.
    unsafe { krb5::krb5_free_principal(c.context, parsed) };
    code == 0
}

/// The realm MIT's library puts `host` in, as it will when it asks for the service ticket
/// (`krb5_get_host_realm`: krb5.conf's `[domain_realm]`, then its other host-realm modules).
/// `None` when it names none (the referral realm: the client's KDC is asked) or fails.
///
/// Reads krb5.conf (`KRB5_CONFIG` as it is now); asks no KDC. Errors use it to tell a
/// failure across a realm trust from one inside a realm.
pub(crate) fn host_realm(host: &str) -> Option<String> {
    use std::ffi::{CStr, c_char, c_void};
    // libgssapi links libgssapi_krb5 only; these four are libkrb5's stable API (krb5.h).
    #[link(name = "krb5")]
    unsafe extern "C" {
        fn krb5_init_context(context: *mut *mut c_void) -> i32;
        fn krb5_free_context(context: *mut c_void);
        fn krb5_get_host_realm(
            context: *mut c_void,
            host: *const c_char,
            realms: *mut *mut *mut c_char,
        ) -> i32;
        fn krb5_free_host_realm(context: *mut c_void, realms: *const *mut c_char) -> i32;
    }
    let host = CString::new(host).ok()?;
    let mut ctx: *mut c_void = ptr::null_mut();
    // SAFETY: `ctx` receives a context we own and free below, whatever happens after.
    if unsafe { krb5_init_context(&mut ctx) } != 0 || ctx.is_null() {
        return None;
    }
    let mut realms: *mut *mut c_char = ptr::null_mut();
    // SAFETY: `ctx` is a live context, `host` a NUL-terminated string that outlives the
    // call; on success `realms` is a NULL-terminated list the library allocated, read
    // before it is freed with its own function, once.
    unsafe {
        let realm =
            if krb5_get_host_realm(ctx, host.as_ptr(), &mut realms) == 0 && !realms.is_null() {
                let first = *realms;
                let r = (!first.is_null())
                    .then(|| CStr::from_ptr(first).to_string_lossy().into_owned())
                    .filter(|r| !r.is_empty());
                krb5_free_host_realm(ctx, realms);
                r
            } else {
                None
            };
        krb5_free_context(ctx);
        realm
    }
}
