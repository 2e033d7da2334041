//! Finds a plugin library built by cargo for these tests.
//!
//! The plugin crates are dev-dependencies of `restore-plugin`, so `cargo
//! test` builds their cdylibs first, into `<target>/<profile>/deps/` (and
//! `<target>/<profile>/` when built directly). The test executable lives in
//! `<target>/<profile>/deps/`, so both are found from it, whatever
//! `CARGO_TARGET_DIR` is.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::PathBuf;

/// The shared library of the crate `package` (e.g. `restore-plugin-jsondir`).
pub fn plugin_library(package: &str) -> PathBuf {
    let file = format!("{DLL_PREFIX}{}{DLL_SUFFIX}", package.replace('-', "_"));
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{file}` not found near `{}`; run the tests with `cargo test -p restore-plugin`, \
                 which builds the plugin crates (its dev-dependencies) first",
                exe.display()
            )
        })
}
