//! Loading a plugin library and calling through its function table. All
//! `unsafe` of the host side is here.

use std::collections::HashMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use libloading::Library;
use restore_plugin_abi::{
    PluginBuffer, PluginVTable, ABI_VERSION, ABI_VERSION_SYMBOL, STATUS_ERROR, STATUS_OK,
    STATUS_PANIC, VTABLE_SYMBOL,
};

use crate::PluginError;

/// Loaded libraries by path. They are never unloaded: code from a plugin
/// may still run after its last instance is gone (threads it started,
/// thread-local destructors registered by its `std`), and unmapping it
/// then would crash the process. Keeping one handle per path also makes a
/// second `open` of the same plugin cheap.
fn loaded() -> &'static Mutex<HashMap<PathBuf, &'static Library>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, &'static Library>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

/// The file to hand to the system loader. A bare file name that exists in
/// the working directory is made `./name`, because the loader would
/// otherwise search only the system paths for it.
fn loader_path(library: &Path) -> PathBuf {
    let bare = library.components().count() == 1;
    if bare && library.is_file() {
        Path::new(".").join(library)
    } else {
        library.to_owned()
    }
}

fn load(library: &Path) -> Result<&'static Library, PluginError> {
    let path = loader_path(library);
    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    // Held while loading, so two threads opening one plugin load it once.
    let mut loaded = loaded().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = loaded.get(&key) {
        return Ok(lib);
    }
    // SAFETY: loading runs the library's initialisers. Running the code
    // of the library the user named is what a plugin is; the ABI checks
    // that follow cover its exports, not its initialisers.
    let lib = unsafe { Library::new(&path) }.map_err(|e| PluginError::NotALibrary {
        reason: loader_reason(&e),
    })?;
    let lib: &'static Library = Box::leak(Box::new(lib));
    loaded.insert(key, lib);
    Ok(lib)
}

/// The loader's own words: libloading's `Display` says only "dlopen
/// failed" and keeps `dlerror()` ("…: cannot open shared object file: No
/// such file or directory", "wrong ELF class: ELFCLASS32", "invalid ELF
/// header", …) in its source, which is what the user needs.
fn loader_reason(e: &libloading::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// Checks the ABI version symbol, then finds the vtable.
fn vtable(lib: &'static Library) -> Result<&'static PluginVTable, PluginError> {
    // The version is read before anything else: a plugin of another ABI
    // version may lay out its table differently.
    //
    // SAFETY: the symbol is only taken as an address here; it is read
    // below after a null check.
    let version = unsafe { lib.get::<*const u32>(ABI_VERSION_SYMBOL) }.map_err(|_| {
        PluginError::MissingSymbol {
            symbol: ABI_VERSION_SYMBOL,
        }
    })?;
    let version: *const u32 = *version;
    if version.is_null() {
        return Err(PluginError::MissingSymbol {
            symbol: ABI_VERSION_SYMBOL,
        });
    }
    // SAFETY: a non-null exported data symbol, mapped for the life of the
    // process (libraries are never unloaded); any four bytes are a valid
    // `u32`, and `read_unaligned` asks nothing of the alignment.
    let found = unsafe { version.read_unaligned() };
    if found != ABI_VERSION {
        return Err(PluginError::AbiMismatch {
            found,
            expected: ABI_VERSION,
        });
    }
    // SAFETY: as for the version symbol: taken as an address only.
    let table = unsafe { lib.get::<*const PluginVTable>(VTABLE_SYMBOL) }.map_err(|_| {
        PluginError::MissingSymbol {
            symbol: VTABLE_SYMBOL,
        }
    })?;
    let table: *const PluginVTable = *table;
    if table.is_null() || !table.is_aligned() {
        return Err(PluginError::MissingSymbol {
            symbol: VTABLE_SYMBOL,
        });
    }
    // SAFETY: the plugin declared the ABI version whose `PluginVTable`
    // layout this build has, the pointer is non-null and aligned, and the
    // static stays mapped because the library is never unloaded.
    let table: &'static PluginVTable = unsafe { &*table };
    if table.abi_version != ABI_VERSION {
        return Err(PluginError::AbiMismatch {
            found: table.abi_version,
            expected: ABI_VERSION,
        });
    }
    Ok(table)
}

/// One plugin instance: the handle `create` returned and the table to
/// call it through. Destroyed on drop.
#[derive(Debug)]
pub(crate) struct Instance {
    table: &'static PluginVTable,
    handle: *mut c_void,
}

// SAFETY: the ABI requires `call` to accept the handle from any thread and
// from several threads at once (the Rust-side `PluginDirectory` trait is
// `Send + Sync`); `destroy` runs once, from `Drop`, when no call is left.
unsafe impl Send for Instance {}
// SAFETY: see `Send`.
unsafe impl Sync for Instance {}

impl Instance {
    /// Loads `library` (once per process), checks it and creates an
    /// instance with `config`. Blocking.
    pub(crate) fn open(library: &Path, config: &str) -> Result<Instance, PluginError> {
        let table = vtable(load(library)?)?;
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut error = PluginBuffer::empty();
        // SAFETY: `config` is valid for `config.len()` bytes during the
        // call; both out pointers point at live locals.
        let status =
            unsafe { (table.create)(config.as_ptr(), config.len(), &mut handle, &mut error) };
        let message = take(table, error)?;
        let message = String::from_utf8_lossy(&message).into_owned();
        match status {
            STATUS_OK if !handle.is_null() => Ok(Instance { table, handle }),
            STATUS_OK => Err(PluginError::Malformed {
                reason: "`create` succeeded but returned no handle".into(),
            }),
            STATUS_ERROR => Err(PluginError::Config {
                config: config.to_owned(),
                reason: message,
            }),
            STATUS_PANIC => Err(PluginError::Panicked { message }),
            status => Err(PluginError::UnknownStatus { status }),
        }
    }

    /// Sends one request message and returns the reply bytes. Blocking.
    pub(crate) fn call(&self, request: &[u8]) -> Result<Vec<u8>, PluginError> {
        let mut out = PluginBuffer::empty();
        // SAFETY: `handle` is live (destroyed only on drop); `request` is
        // valid for its length during the call; `out` is a live local.
        let status =
            unsafe { (self.table.call)(self.handle, request.as_ptr(), request.len(), &mut out) };
        let reply = take(self.table, out)?;
        match status {
            STATUS_OK => Ok(reply),
            STATUS_PANIC => Err(PluginError::Panicked {
                message: String::from_utf8_lossy(&reply).into_owned(),
            }),
            STATUS_ERROR => Err(PluginError::Failed {
                message: String::from_utf8_lossy(&reply).into_owned(),
            }),
            status => Err(PluginError::UnknownStatus { status }),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the handle came from `create`, is destroyed only here,
        // and no call is running: calls borrow `self`. A failure cannot be
        // reported from `drop`, and the plugin caught any panic.
        let _ = unsafe { (self.table.destroy)(self.handle) };
    }
}

/// Copies a buffer the plugin handed out and gives it back to the plugin's
/// `free_buffer` (the plugin's allocator may not be ours).
fn take(table: &PluginVTable, buffer: PluginBuffer) -> Result<Vec<u8>, PluginError> {
    if buffer.ptr.is_null() {
        return if buffer.len == 0 {
            Ok(Vec::new())
        } else {
            Err(PluginError::Malformed {
                reason: format!("null buffer of length {}", buffer.len),
            })
        };
    }
    if buffer.len > isize::MAX as usize {
        // Do not touch the bytes; still return the allocation.
        // SAFETY: the buffer came from this plugin and is freed once.
        let _ = unsafe { (table.free_buffer)(buffer) };
        return Err(PluginError::Malformed {
            reason: "buffer length out of range".into(),
        });
    }
    // SAFETY: the plugin handed over `len` initialised bytes at `ptr`
    // (non-null, checked above), which stay valid until `free_buffer`.
    let bytes = unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec();
    // SAFETY: the buffer came from this plugin and is freed once, after
    // the copy above.
    let _ = unsafe { (table.free_buffer)(buffer) };
    Ok(bytes)
}
