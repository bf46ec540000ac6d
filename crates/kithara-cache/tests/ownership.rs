//! One owner per root; read-only inspection beside it; a dead owner releases the lock.

mod common;

use std::fs;
use std::time::Duration;

use common::{disk_usage, files, id, open, p, spawn_child, temp_files, wait_for_line};
use kithara_cache::{AssetCache, CacheError, CacheOptions};

const ROOT: &str = "KITHARA_TEST_ROOT";

/// Child: owns the root, writes one asset, reports, then waits to be killed.
#[test]
#[ignore = "helper process for the ownership tests"]
fn child_owner() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    let cache = AssetCache::open(CacheOptions::new(&root).max_bytes(1 << 20)).unwrap();
    cache
        .asset(id(1))
        .put_atomic(&p("a"), b"owned by the child")
        .unwrap();
    let _pin = cache.pin(id(1)).unwrap();
    cache.flush().unwrap();
    println!("owning");
    std::thread::sleep(Duration::from_secs(600));
}

/// Child: tries to own the root and prints the outcome.
#[test]
#[ignore = "helper process for the ownership tests"]
fn child_second_opener() {
    let Ok(root) = std::env::var(ROOT) else {
        return;
    };
    match AssetCache::open(CacheOptions::new(&root)) {
        Ok(_) => println!("result: opened"),
        Err(e) => println!("result: {e}"),
    }
}

#[test]
fn a_second_owner_in_this_process_gets_a_clear_in_use_error_naming_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let _owner = AssetCache::open(CacheOptions::new(dir.path()).owner("player\n7")).unwrap();
    let err = AssetCache::open(CacheOptions::new(dir.path())).unwrap_err();
    assert!(matches!(err, CacheError::InUse { owner: Some(_), .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "cache directory {} is in use by another process (pid {}: player7)",
            dir.path().display(),
            std::process::id()
        )
    );
}

#[test]
fn another_process_cannot_own_a_root_and_a_killed_owner_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let mut owner = spawn_child("child_owner", &[(ROOT, root)]);
    assert_eq!(
        wait_for_line(&mut owner, "owning").as_deref(),
        Some("owning")
    );

    let mut second = spawn_child("child_second_opener", &[(ROOT, root)]);
    let line = wait_for_line(&mut second, "result:").unwrap();
    second.wait().unwrap();
    // Named by pid and, by default, the executable's name.
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_str().unwrap();
    assert!(
        line.ends_with(&format!(
            "is in use by another process (pid {}: {exe})",
            owner.id()
        )),
        "{line}"
    );
    assert!(matches!(
        AssetCache::open(CacheOptions::new(root)),
        Err(CacheError::InUse { .. })
    ));

    // Read-only inspection beside the owner sees its data and changes nothing.
    let before: Vec<_> = files(dir.path())
        .into_iter()
        .map(|f| (fs::read(&f).unwrap(), f))
        .collect();
    let ro = AssetCache::open_read_only(root).unwrap();
    assert_eq!(
        ro.asset(id(1)).read(&p("a")).unwrap().unwrap(),
        &b"owned by the child"[..]
    );
    let stats = ro.stats().unwrap();
    assert_eq!((stats.total_bytes, stats.asset_count), (18, 1));
    assert!(stats.read_only);
    // The owner's pin shows in another process's view.
    assert_eq!((stats.pinned_assets, stats.pinned_bytes), (1, 18));
    assert!(
        ro.assets().unwrap()[0].pinned,
        "the owner's pin is not seen"
    );
    assert!(ro.asset(id(1)).info().unwrap().pinned);
    let err = ro.asset(id(2)).put_atomic(&p("x"), b"x").unwrap_err();
    assert!(matches!(err, CacheError::ReadOnly { .. }), "{err}");
    assert!(matches!(ro.remove(id(1)), Err(CacheError::ReadOnly { .. })));
    ro.flush().unwrap();
    drop(ro);
    let after: Vec<_> = files(dir.path())
        .into_iter()
        .map(|f| (fs::read(&f).unwrap(), f))
        .collect();
    assert_eq!(before, after, "read-only never writes");

    owner.kill().unwrap();
    owner.wait().unwrap();
    // Killed (SIGKILL), it left its pin file but nothing pinned.
    let ro = AssetCache::open_read_only(root).unwrap();
    assert_eq!(ro.stats().unwrap().pinned_assets, 0);
    assert!(
        !ro.assets().unwrap()[0].pinned,
        "a dead owner's pin is seen"
    );
    drop(ro);
    let cache = AssetCache::open(CacheOptions::new(root)).unwrap();
    assert_eq!(
        cache.asset(id(1)).read(&p("a")).unwrap().unwrap(),
        &b"owned by the child"[..]
    );
    // The dead owner pinned asset 1: its pin must not protect it now.
    assert_eq!(
        cache.set_max_bytes(0).unwrap(),
        vec![id(1)],
        "the dead owner's pin still protects its asset"
    );
}

#[test]
fn temp_files_of_a_dead_writer_are_removed_on_open_and_never_counted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 1 << 20);
        cache.asset(id(1)).put_atomic(&p("v0/a"), b"real").unwrap();
    }
    let adir = common::asset_dir(dir.path(), &id(1));
    fs::write(adir.join(".1-2-3.kithara-tmp"), [0u8; 5000]).unwrap();
    fs::write(adir.join("v0/.9-9-9.kithara-tmp"), [0u8; 5000]).unwrap();
    fs::write(dir.path().join(".4-5-6.kithara-tmp"), b"{").unwrap();

    // Read-only reports them but leaves them.
    let ro = AssetCache::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.recovery().temp_files, 3);
    assert_eq!(ro.stats().unwrap().total_bytes, 4);
    assert_eq!(temp_files(dir.path()).len(), 3);
    drop(ro);

    let cache = open(dir.path(), 1 << 20);
    assert_eq!(cache.recovery().temp_files, 3);
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(cache.stats().unwrap().total_bytes, 4);
    assert_eq!(disk_usage(dir.path()), (4, 1));
}

#[test]
fn read_only_open_of_a_missing_root_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = AssetCache::open_read_only(&missing).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(!missing.exists());
}
