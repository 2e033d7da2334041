//! Test fixture: exports an ABI version no host speaks, and a "vtable"
//! that is not one. A host that checks the version first never looks at it.

// A test fixture: it misbehaves (panics) on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

/// Not `restore_plugin_abi::ABI_VERSION`.
#[no_mangle]
pub static RESTORE_PLUGIN_ABI_VERSION: u32 = 999;

/// Zeros where function pointers would be: calling through this crashes,
/// so a host that reads it before the version check fails loudly.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static restore_plugin_vtable: [u64; 5] = [0; 5];
