use thiserror::Error;

/// Why a plugin could not be loaded or answered out of contract.
///
/// It reaches callers as the source of a `DirectoryError::Backend` whose
/// context names the library, so the messages here do not repeat it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file is missing, not a shared library, or not for this platform.
    #[error("cannot load the library: {reason}")]
    NotALibrary { reason: String },
    /// A library, but not a restore plugin.
    #[error("not a restore plugin: symbol `{symbol}` is missing")]
    MissingSymbol { symbol: &'static str },
    /// Built against another version of `restore-plugin-abi`.
    #[error("plugin speaks ABI version {found}, this restorectl speaks version {expected}; rebuild the plugin against restore-plugin-abi {expected}")]
    AbiMismatch { found: u32, expected: u32 },
    /// `create` rejected the config string.
    #[error("plugin refused its config `{config}`: {reason}")]
    Config { config: String, reason: String },
    /// The plugin caught a panic and reported it.
    #[error("plugin panicked: {message}")]
    Panicked { message: String },
    /// A reply that is not valid JSON, of another message version, of the
    /// wrong shape, or not about what was asked.
    #[error("plugin sent a malformed message: {reason}")]
    Malformed { reason: String },
    /// A status code outside the ABI.
    #[error("plugin returned unknown status code {status}")]
    UnknownStatus { status: i32 },
    /// The plugin reported a failure of its own store.
    #[error("plugin failed: {message}")]
    Failed { message: String },
    /// The blocking task running the call was lost.
    #[error("plugin call did not complete: {reason}")]
    Join { reason: String },
}
