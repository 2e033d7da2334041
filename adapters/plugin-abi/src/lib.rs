//! The boundary between `restorectl` and a directory plugin: a shared library
//! loaded at run time that implements the `Directory` trait out of process
//! memory the host does not own.
//!
//! # Symbols
//!
//! A plugin exports exactly two symbols:
//!
//! 1. [`ABI_VERSION_SYMBOL`] (`RESTORE_PLUGIN_ABI_VERSION`), a `u32` static.
//!    The host reads it **before anything else** and refuses the library
//!    unless it equals [`ABI_VERSION`]; nothing else in the library is
//!    touched in that case, since its layout may differ.
//! 2. [`VTABLE_SYMBOL`] (`restore_plugin_vtable`), a [`PluginVTable`] static.
//!
//! [`export_plugin!`] generates both for a type implementing
//! [`PluginDirectory`]; the generated functions catch every panic.
//!
//! # Memory ownership
//!
//! Each side frees only what it allocated: a [`PluginBuffer`] filled by the
//! plugin goes back through the plugin's `free_buffer`, because host and plugin
//! may use different allocators (each cdylib links its own copy of `std`).
//! Request bytes and the config string are borrowed by the plugin for the
//! duration of one call only.
//!
//! # Messages
//!
//! Requests and replies are JSON documents with a version field `v`
//! ([`MESSAGE_VERSION`]); see [`message`]. The ABI version covers the C
//! layout; the message version covers the JSON.

mod export;
pub mod message;

use std::ffi::c_void;
use std::mem::ManuallyDrop;

pub use export::{
    call, create, destroy, dispatch, free_buffer, vtable, Committed, PluginDirectory, Restoring,
};
pub use message::{ErrorKind, MessageError, WireError, MESSAGE_VERSION};

/// Version of the C layout in this file. Bump on any change to
/// [`PluginVTable`], [`PluginBuffer`], the function signatures or the status codes.
pub const ABI_VERSION: u32 = 1;

/// Name of the exported `u32` static holding the plugin's [`ABI_VERSION`].
pub const ABI_VERSION_SYMBOL: &str = "RESTORE_PLUGIN_ABI_VERSION";

/// Name of the exported [`PluginVTable`] static.
pub const VTABLE_SYMBOL: &str = "restore_plugin_vtable";

/// What an exported function reports; see the `STATUS_*` constants.
pub type Status = i32;

/// Success; for `call` the out buffer holds a reply message.
pub const STATUS_OK: Status = 0;
/// Failure; the out buffer (if any) holds a UTF-8 reason.
pub const STATUS_ERROR: Status = 1;
/// The plugin panicked and caught it; the out buffer (if any) holds the
/// panic message in UTF-8. The handle must not be used for restores in flight.
pub const STATUS_PANIC: Status = 2;
/// A required pointer was null or a length did not fit.
pub const STATUS_INVALID_ARGUMENT: Status = 3;

/// Bytes allocated by the plugin and handed to the host, which copies them
/// and gives the buffer back through [`PluginVTable::free_buffer`].
#[repr(C)]
#[derive(Debug)]
pub struct PluginBuffer {
    /// Start of the bytes; null when there are none.
    pub ptr: *mut u8,
    /// Number of bytes at `ptr`.
    pub len: usize,
    /// The allocation's capacity, needed to free it; opaque to the host.
    pub cap: usize,
}

impl PluginBuffer {
    /// No bytes; what the host passes in as an out parameter.
    pub const fn empty() -> Self {
        PluginBuffer {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// Hands `bytes` over the boundary. Whoever receives the buffer must
    /// return it to the allocating side's `free_buffer`, or it leaks.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = ManuallyDrop::new(bytes);
        PluginBuffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// True when no bytes were handed over.
    pub fn is_empty(&self) -> bool {
        self.ptr.is_null() || self.len == 0
    }
}

/// Creates a plugin instance from its config string (`CONFIG` in
/// `plugin:LIB?CONFIG`, UTF-8, not NUL-terminated). On [`STATUS_OK`],
/// `*out_handle` is set; otherwise `*out_error` may hold a reason.
pub type CreateFn = unsafe extern "C" fn(
    config: *const u8,
    config_len: usize,
    out_handle: *mut *mut c_void,
    out_error: *mut PluginBuffer,
) -> Status;

/// Answers one request message. May be called from several threads at once
/// with the same handle. On [`STATUS_OK`], `*out_response` holds a reply message.
pub type CallFn = unsafe extern "C" fn(
    handle: *mut c_void,
    request: *const u8,
    request_len: usize,
    out_response: *mut PluginBuffer,
) -> Status;

/// Frees a buffer this plugin handed out. Called exactly once per buffer.
pub type FreeBufferFn = unsafe extern "C" fn(buffer: PluginBuffer) -> Status;

/// Drops a plugin instance; restores still begun are aborted. Called once.
pub type DestroyFn = unsafe extern "C" fn(handle: *mut c_void) -> Status;

/// The functions a plugin exports, as one static named [`VTABLE_SYMBOL`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginVTable {
    /// Repeats [`ABI_VERSION`]: a second check that the table matches its symbol.
    pub abi_version: u32,
    /// See [`CreateFn`].
    pub create: CreateFn,
    /// See [`CallFn`].
    pub call: CallFn,
    /// See [`FreeBufferFn`].
    pub free_buffer: FreeBufferFn,
    /// See [`DestroyFn`].
    pub destroy: DestroyFn,
}

/// Exports `$plugin` (a type implementing [`PluginDirectory`]) as a plugin:
/// the [`ABI_VERSION_SYMBOL`] and [`VTABLE_SYMBOL`] statics. Use once per
/// cdylib crate.
///
/// ```ignore
/// restore_plugin_abi::export_plugin!(my_crate::MyDirectory);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// ABI version this plugin was built against; the host reads it first.
        #[no_mangle]
        pub static RESTORE_PLUGIN_ABI_VERSION: u32 = $crate::ABI_VERSION;

        /// The plugin's functions; see `restore_plugin_abi::PluginVTable`.
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static restore_plugin_vtable: $crate::PluginVTable = $crate::vtable::<$plugin>();
    };
}
