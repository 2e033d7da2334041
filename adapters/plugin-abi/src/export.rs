//! The plugin side: a synchronous trait and the `extern "C"` functions
//! [`crate::export_plugin!`] exports for it.
//!
//! Every exported function runs its body under [`catch_unwind`], because a
//! panic unwinding into the host through `extern "C"` aborts the host.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use restore_directory::RestoreRequest;
use restore_engine::decision::Decision;
use restore_engine::facts::Facts;

use crate::message::{self, ErrorKind, Reply, Request, Response, WireError};
use crate::{
    PluginBuffer, PluginVTable, Status, ABI_VERSION, STATUS_ERROR, STATUS_INVALID_ARGUMENT,
    STATUS_OK, STATUS_PANIC,
};

/// A restore begun by [`PluginDirectory::restore_begin`]: the facts read
/// under the plugin's lock, and the token that names the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restoring {
    pub token: u64,
    pub facts: Facts,
}

/// What [`PluginDirectory::restore_commit`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Id of the audit row recording the decision.
    pub audit_id: i64,
    /// Seats in use after the restore.
    pub seats_used: i64,
}

/// A directory implemented inside a plugin. Synchronous: the host calls it
/// from blocking threads, possibly several at once.
///
/// The contract is `restore_directory::Directory`'s, with `apply_restore`
/// split in two (see [`crate::message`]).
pub trait PluginDirectory: Send + Sync + Sized + 'static {
    /// Builds an instance from the config string of `plugin:LIB?CONFIG`.
    /// The error is shown to the user as is.
    fn create(config: &str) -> Result<Self, String>;

    /// Facts about one deleted member; errors as `Directory::facts`.
    fn facts(&self, tenant: &str, member: &str, actor: Option<&str>) -> Result<Facts, WireError>;

    /// Up to `limit` deleted members with ids after `after`, in id order.
    /// An unknown tenant or actor is an error on every page.
    fn deleted_members(
        &self,
        tenant: &str,
        actor: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Facts>, WireError>;

    /// Ids of every tenant, sorted, for commands that cover all of them
    /// (`restorectl diff` without `--tenant`). The default says the plugin
    /// cannot list them, and the user must name tenants.
    fn tenants(&self) -> Result<Vec<String>, WireError> {
        Err(WireError::new(
            ErrorKind::Unsupported,
            "this plugin cannot list its tenants; name them with --tenant",
        ))
    }

    /// Checks the request (department, tenant, actor, member, in that order,
    /// as `Directory::apply_restore`), locks what the restore depends on and
    /// returns the facts read under the lock. The lock is held until
    /// [`restore_commit`](Self::restore_commit) or
    /// [`restore_abort`](Self::restore_abort) with the token, or until the
    /// instance is dropped.
    fn restore_begin(&self, request: &RestoreRequest) -> Result<Restoring, WireError>;

    /// Writes the allowed restore in one step and releases the lock.
    fn restore_commit(&self, token: u64, decision: &Decision) -> Result<Committed, WireError>;

    /// Releases the lock without writing. An unknown token is an error.
    fn restore_abort(&self, token: u64) -> Result<(), WireError>;

    /// Answers one serialized request. The default decodes, dispatches to
    /// the methods above and encodes; override it only to speak the wire
    /// format yourself.
    fn call_raw(&self, request: &[u8]) -> Vec<u8> {
        dispatch(self, request)
    }
}

/// Decodes `request`, runs it on `plugin`, encodes the reply.
pub fn dispatch<T: PluginDirectory>(plugin: &T, request: &[u8]) -> Vec<u8> {
    let reply = match message::decode_request(request) {
        Err(e) => Reply::Err(WireError::new(
            ErrorKind::BadRequest,
            format!("plugin cannot read the request: {e}"),
        )),
        Ok(request) => match answer(plugin, request) {
            Ok(response) => Reply::Ok(response),
            Err(e) => Reply::Err(e),
        },
    };
    message::encode_reply(&reply).unwrap_or_else(|e| {
        // Facts hold only strings, numbers and timestamps, so encoding does
        // not fail in practice; answer with a fixed message if it does.
        let fallback = Reply::Err(WireError::backend(format!("plugin cannot encode: {e}")));
        message::encode_reply(&fallback).unwrap_or_default()
    })
}

fn answer<T: PluginDirectory>(plugin: &T, request: Request) -> Result<Response, WireError> {
    Ok(match request {
        Request::Facts {
            tenant,
            member,
            actor,
        } => Response::Facts {
            facts: plugin.facts(&tenant, &member, actor.as_deref())?,
        },
        Request::DeletedMembers {
            tenant,
            actor,
            after,
            limit,
        } => Response::Page {
            members: plugin.deleted_members(
                &tenant,
                actor.as_deref(),
                after.as_deref(),
                limit as usize,
            )?,
        },
        Request::Tenants => Response::Tenants {
            tenants: plugin.tenants()?,
        },
        Request::RestoreBegin { request } => {
            let Restoring { token, facts } = plugin.restore_begin(&request)?;
            Response::Begun { token, facts }
        }
        Request::RestoreCommit { token, decision } => {
            let Committed {
                audit_id,
                seats_used,
            } = plugin.restore_commit(token, &decision)?;
            Response::Committed {
                audit_id,
                seats_used,
            }
        }
        Request::RestoreAbort { token } => {
            plugin.restore_abort(token)?;
            Response::Aborted
        }
    })
}

/// The function table for `T`; what [`crate::export_plugin!`] exports.
pub const fn vtable<T: PluginDirectory>() -> PluginVTable {
    PluginVTable {
        abi_version: ABI_VERSION,
        create: create::<T>,
        call: call::<T>,
        free_buffer,
        destroy: destroy::<T>,
    }
}

thread_local! {
    /// Set while an exported function runs, so the panic hook stays quiet
    /// only for panics that are reported to the host.
    static IN_EXPORT: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, filled by the hook.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the default panic output (several lines on stderr, which would
/// break the CLI's one-line errors) with a note of the location, for panics
/// inside exported functions only. This is the plugin's own copy of `std`,
/// so the host's hook is untouched.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_EXPORT.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_LOCATION.with(|p| *p.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` with panics caught; a panic becomes its message and location.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_panic_hook();
    IN_EXPORT.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_EXPORT.with(|c| c.set(false));
    result.map_err(|payload| {
        let message = panic_message(payload.as_ref());
        match PANIC_LOCATION.with(|p| p.borrow_mut().take()) {
            Some(at) => format!("{message} (at {at})"),
            None => message,
        }
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Writes `bytes` to a non-null out parameter.
///
/// # Safety
/// `out` must be valid for a write of one `PluginBuffer`.
unsafe fn hand_over(out: *mut PluginBuffer, bytes: Vec<u8>) {
    // SAFETY: the caller guarantees `out` is valid for writes; `write` does
    // not read or drop the old (uninitialised or empty) value.
    unsafe { out.write(PluginBuffer::from_vec(bytes)) }
}

/// Borrows `len` bytes at `ptr`; empty when `len` is 0 (then `ptr` may be null).
///
/// # Safety
/// When `len > 0`, `ptr` must be non-null and valid for reads of `len`
/// bytes for `'a`.
unsafe fn borrow_bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller for `len > 0`.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// [`crate::CreateFn`] for `T`.
///
/// # Safety
/// `config` is valid for reads of `config_len` bytes (or `config_len` is 0);
/// `out_handle` and `out_error` are valid for one write each.
pub unsafe extern "C" fn create<T: PluginDirectory>(
    config: *const u8,
    config_len: usize,
    out_handle: *mut *mut c_void,
    out_error: *mut PluginBuffer,
) -> Status {
    if out_handle.is_null() || out_error.is_null() || (config.is_null() && config_len > 0) {
        return STATUS_INVALID_ARGUMENT;
    }
    let result = guarded(|| {
        // SAFETY: non-null when `config_len > 0` (checked above); the host
        // keeps the bytes alive for this call.
        let bytes = unsafe { borrow_bytes(config, config_len) };
        let config =
            std::str::from_utf8(bytes).map_err(|e| format!("plugin config is not UTF-8: {e}"))?;
        T::create(config).map(|plugin| Box::into_raw(Box::new(plugin)).cast::<c_void>())
    });
    match result {
        Ok(Ok(handle)) => {
            // SAFETY: `out_handle` is non-null (checked above) and valid for
            // a write per this function's contract.
            unsafe { out_handle.write(handle) };
            STATUS_OK
        }
        Ok(Err(reason)) => {
            // SAFETY: `out_error` is non-null (checked above) and writable.
            unsafe { hand_over(out_error, reason.into_bytes()) };
            STATUS_ERROR
        }
        Err(panic) => {
            // SAFETY: as above.
            unsafe { hand_over(out_error, panic.into_bytes()) };
            STATUS_PANIC
        }
    }
}

/// [`crate::CallFn`] for `T`.
///
/// # Safety
/// `handle` came from [`create::<T>`] and was not destroyed; `request` is
/// valid for reads of `request_len` bytes; `out_response` is valid for one write.
pub unsafe extern "C" fn call<T: PluginDirectory>(
    handle: *mut c_void,
    request: *const u8,
    request_len: usize,
    out_response: *mut PluginBuffer,
) -> Status {
    if handle.is_null() || out_response.is_null() || (request.is_null() && request_len > 0) {
        return STATUS_INVALID_ARGUMENT;
    }
    let result = guarded(|| {
        // SAFETY: `handle` is a live `Box<T>` from `create::<T>` (contract);
        // `T: Sync`, so shared references from several threads are fine.
        let plugin = unsafe { &*handle.cast_const().cast::<T>() };
        // SAFETY: non-null when `request_len > 0` (checked above), alive
        // for this call per the contract.
        let bytes = unsafe { borrow_bytes(request, request_len) };
        plugin.call_raw(bytes)
    });
    let (status, bytes) = match result {
        Ok(reply) => (STATUS_OK, reply),
        Err(panic) => (STATUS_PANIC, panic.into_bytes()),
    };
    // SAFETY: `out_response` is non-null (checked above) and writable.
    unsafe { hand_over(out_response, bytes) };
    status
}

/// [`crate::FreeBufferFn`]: frees a buffer this plugin handed out.
///
/// # Safety
/// `buffer` was produced by this plugin and is freed once.
pub unsafe extern "C" fn free_buffer(buffer: PluginBuffer) -> Status {
    if buffer.ptr.is_null() {
        return STATUS_OK;
    }
    let result = guarded(|| {
        // SAFETY: ptr, len and cap come from `PluginBuffer::from_vec` in
        // this library (same allocator), and the buffer is freed once.
        drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
    });
    match result {
        Ok(()) => STATUS_OK,
        Err(_) => STATUS_PANIC,
    }
}

/// [`crate::DestroyFn`] for `T`.
///
/// # Safety
/// `handle` came from [`create::<T>`], no call is running on it, and it is
/// destroyed once.
pub unsafe extern "C" fn destroy<T: PluginDirectory>(handle: *mut c_void) -> Status {
    if handle.is_null() {
        return STATUS_INVALID_ARGUMENT;
    }
    let result = guarded(|| {
        // SAFETY: `handle` is the `Box<T>` leaked by `create::<T>`, not yet
        // destroyed and no longer used by any call (contract).
        drop(unsafe { Box::from_raw(handle.cast::<T>()) });
    });
    match result {
        Ok(()) => STATUS_OK,
        Err(_) => STATUS_PANIC,
    }
}
