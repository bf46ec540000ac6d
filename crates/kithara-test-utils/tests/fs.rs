//! Tests of the file-system helpers.

use kithara_test_utils::{assert_dir_not_empty, count_files_recursive, dir_nonempty_recursive};

#[test]
fn missing_dir_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert_eq!(count_files_recursive(&missing), 0);
    assert!(!dir_nonempty_recursive(&missing));
}

#[test]
fn counts_regular_files_recursively_ignoring_dirs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b/c")).unwrap();
    std::fs::create_dir_all(dir.path().join("empty/nested")).unwrap();
    assert_eq!(count_files_recursive(dir.path()), 0);
    assert!(!dir_nonempty_recursive(dir.path()));

    std::fs::write(dir.path().join("top"), b"1").unwrap();
    std::fs::write(dir.path().join("a/b/c/deep"), b"2").unwrap();
    std::fs::write(dir.path().join("a/mid"), b"").unwrap();
    assert_eq!(count_files_recursive(dir.path()), 3);
    assert_eq!(count_files_recursive(dir.path().join("a")), 2);
    assert!(dir_nonempty_recursive(dir.path().join("a/b")));
    assert!(!dir_nonempty_recursive(dir.path().join("empty")));
    assert_dir_not_empty(dir.path());
}

#[test]
fn assert_dir_not_empty_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let result = std::panic::catch_unwind(|| assert_dir_not_empty(&path));
    let payload = result.expect_err("empty dir must panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains(&path.display().to_string()), "{message}");
}
