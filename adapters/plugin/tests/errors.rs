//! Every way a plugin can be wrong ends in a clear error, never a crash.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "support/locate.rs"]
mod locate;

use std::path::Path;

use futures::StreamExt;
use locate::plugin_library;
use restore_directory::{Directory, DirectoryError};
use restore_plugin::{PluginDirectory, PluginError};

/// The `PluginError` inside a `DirectoryError::Backend`, with its display.
fn plugin_error(e: &DirectoryError) -> (&PluginError, String) {
    match e {
        DirectoryError::Backend { source, .. } => (
            source
                .downcast_ref::<PluginError>()
                .unwrap_or_else(|| panic!("not a plugin error: {e}")),
            // As the CLI prints it: the context, then the source.
            format!("{e}: {source}"),
        ),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

async fn open_err(library: &Path, config: &str) -> DirectoryError {
    match PluginDirectory::open(library, config).await {
        Ok(_) => panic!("`{}` opened", library.display()),
        Err(e) => e,
    }
}

async fn fixture(mode: &str) -> PluginDirectory {
    PluginDirectory::open(
        &plugin_library("restore-plugin-fixtures"),
        &format!("mode={mode}"),
    )
    .await
    .unwrap_or_else(|e| panic!("fixture mode `{mode}`: {e}"))
}

async fn facts_err(mode: &str) -> DirectoryError {
    fixture(mode)
        .await
        .facts("acme", "u_bob", None)
        .await
        .expect_err("the fixture answered")
}

#[tokio::test]
async fn a_text_file_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("libfake.so");
    std::fs::write(&file, "just some text\n".repeat(20)).unwrap();
    let e = open_err(&file, "").await;
    let (inner, message) = plugin_error(&e);
    assert!(
        matches!(inner, PluginError::NotALibrary { .. }),
        "{inner:?}"
    );
    assert!(
        message.starts_with(&format!(
            "plugin `{}`: cannot load the library: ",
            file.display()
        )),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    // The loader's reason, not only "dlopen failed".
    assert!(message.contains("invalid ELF header"), "{message}");
}

#[tokio::test]
async fn a_missing_file_is_not_a_library() {
    let e = open_err(Path::new("/nonexistent/libnothing.so"), "").await;
    let (inner, message) = plugin_error(&e);
    assert!(
        matches!(inner, PluginError::NotALibrary { .. }),
        "{inner:?}"
    );
    assert!(message.contains("No such file or directory"), "{message}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_library_of_another_elf_class_says_so() {
    // A 64-bit ELF header claiming class 1 (32-bit): the loader names the class.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("libclass32.so");
    let mut bytes = std::fs::read("/proc/self/exe").unwrap();
    bytes.truncate(4096);
    bytes[4] = if cfg!(target_pointer_width = "64") {
        1
    } else {
        2
    };
    std::fs::write(&file, bytes).unwrap();
    let e = open_err(&file, "").await;
    let (inner, message) = plugin_error(&e);
    assert!(
        matches!(inner, PluginError::NotALibrary { .. }),
        "{inner:?}"
    );
    assert!(message.contains("wrong ELF class"), "{message}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_directory_is_not_a_library_and_the_loader_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("libdir.so");
    std::fs::create_dir(&file).unwrap();
    let e = open_err(&file, "").await;
    let (_, message) = plugin_error(&e);
    assert!(
        message.contains("cannot load the library: dlopen failed: "),
        "{message}"
    );
    assert!(
        message.len() > "cannot load the library: dlopen failed: ".len() + 10,
        "{message}"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_library_without_our_symbols_is_refused() {
    // The C library is loaded in every process and exports neither symbol.
    let e = open_err(Path::new("libc.so.6"), "").await;
    let (inner, message) = plugin_error(&e);
    assert!(
        matches!(
            inner,
            PluginError::MissingSymbol {
                symbol: "RESTORE_PLUGIN_ABI_VERSION"
            }
        ),
        "{inner:?}"
    );
    assert!(message.contains("not a restore plugin"), "{message}");
}

#[tokio::test]
async fn another_abi_version_is_refused_before_the_vtable_is_read() {
    // The fixture's "vtable" is zeros: reading it before the version check
    // would crash this test instead of failing it.
    let e = open_err(&plugin_library("restore-plugin-fixture-badabi"), "").await;
    let (inner, message) = plugin_error(&e);
    assert!(
        matches!(
            inner,
            PluginError::AbiMismatch {
                found: 999,
                expected: 1
            }
        ),
        "{inner:?}"
    );
    assert!(message.contains("ABI version 999"), "{message}");
}

#[tokio::test]
async fn a_refused_config_is_reported() {
    let library = plugin_library("restore-plugin-fixtures");
    let e = open_err(&library, "mode=refuse").await;
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Config { .. }), "{inner:?}");
    assert!(
        message.contains("refused its config `mode=refuse`: fixture refuses"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panic_in_create_is_caught() {
    let library = plugin_library("restore-plugin-fixtures");
    let e = open_err(&library, "mode=panic-create").await;
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Panicked { .. }), "{inner:?}");
    assert!(
        message.contains("plugin panicked: fixture panics in create (at "),
        "{message}"
    );
}

#[tokio::test]
async fn a_panic_in_a_call_is_caught_every_time() {
    let plugin = fixture("panic").await;
    for _ in 0..2 {
        let e = plugin.facts("acme", "u_bob", None).await.unwrap_err();
        let (inner, message) = plugin_error(&e);
        assert!(matches!(inner, PluginError::Panicked { .. }), "{inner:?}");
        assert!(
            message.contains("plugin panicked: fixture panics on purpose"),
            "{message}"
        );
    }
    // The stream reports the panic as its only item.
    let items: Vec<_> = plugin.deleted_members("acme", None).collect().await;
    assert_eq!(items.len(), 1);
    assert!(matches!(
        plugin_error(items[0].as_ref().unwrap_err()).0,
        PluginError::Panicked { .. }
    ));
}

#[tokio::test]
async fn invalid_json_is_malformed() {
    let e = facts_err("garbage").await;
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Malformed { .. }), "{inner:?}");
    assert!(
        message.contains("malformed message: not valid JSON"),
        "{message}"
    );
}

#[tokio::test]
async fn another_message_version_is_malformed() {
    let e = facts_err("wrong-version").await;
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Malformed { .. }), "{inner:?}");
    assert!(
        message.contains("message version `99` is not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn a_reply_of_the_wrong_type_is_malformed() {
    let e = facts_err("wrong-shape").await;
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Malformed { .. }), "{inner:?}");
    assert!(
        message.contains("expected a `facts` reply, got `aborted`"),
        "{message}"
    );
}

#[tokio::test]
async fn facts_about_another_tenant_are_refused() {
    let e = facts_err("other-tenant").await;
    let (_, message) = plugin_error(&e);
    assert!(
        message.contains("facts about tenant `intruder`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_page_out_of_order_is_refused() {
    let plugin = fixture("out-of-order").await;
    let items: Vec<_> = plugin.deleted_members("acme", None).collect().await;
    // u_b then u_a: the first member passes, the second ends the stream.
    assert_eq!(items.len(), 1);
    let (_, message) = plugin_error(items[0].as_ref().unwrap_err());
    assert!(
        message.contains("deleted member `u_a` out of id order"),
        "{message}"
    );
}

#[tokio::test]
async fn plugin_errors_become_the_matching_directory_error() {
    let e = facts_err("unknown-tenant").await;
    // The tenant comes from the host's request, not from the plugin.
    assert!(
        matches!(&e, DirectoryError::UnknownTenant { tenant } if tenant == "acme"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_plugin_older_than_the_tenants_request_says_to_name_them() {
    let e = fixture("before-tenants")
        .await
        .tenants()
        .await
        .expect_err("the fixture cannot list tenants");
    match e {
        DirectoryError::Unsupported(message) => {
            assert!(message.contains("--tenant"), "{message}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_reply_to_tenants_is_refused() {
    let e = fixture("wrong-shape")
        .await
        .tenants()
        .await
        .expect_err("an `aborted` reply is not a tenant list");
    let (inner, message) = plugin_error(&e);
    assert!(matches!(inner, PluginError::Malformed { .. }), "{inner:?}");
    assert!(
        message.contains("expected a `tenants` reply, got `aborted`"),
        "{message}"
    );
}
