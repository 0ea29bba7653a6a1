//! The grep-able invariants of ARCHITECTURE.md, checked on the sources:
//! where `target_arch` and `anyhow` may appear, which crate may depend on
//! which, that `format` and `replay` touch no live process, and that the
//! code map names every source file and script, and that the scripts parse.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, generated FlatBuffers code excluded.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "generated") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The crates' library and binary sources.
fn crate_sources() -> Vec<PathBuf> {
    ["format/src", "s3/src", "capture/src", "replay/src"]
        .iter()
        .flat_map(|d| sources(&root().join(d)))
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Files whose code (comments aside) contains `needle`.
fn files_using(files: &[PathBuf], needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|p| {
            read(p)
                .lines()
                .map(str::trim_start)
                .filter(|l| !l.starts_with("//"))
                .any(|l| l.contains(needle))
        })
        .map(|p| rel(p))
        .collect()
}

/// The names under `[dependencies]` of a crate's Cargo.toml.
fn dependencies(krate: &str) -> Vec<String> {
    let text = read(&root().join(krate).join("Cargo.toml"));
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once(['=', '.']) {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[test]
fn target_arch_only_in_capture_arch_rs() {
    assert_eq!(
        files_using(&crate_sources(), "target_arch"),
        ["capture/src/arch.rs"]
    );
}

#[test]
fn anyhow_only_in_the_binaries() {
    let users = files_using(&crate_sources(), "anyhow");
    assert!(
        users.iter().all(|f| f.ends_with("/main.rs")),
        "anyhow outside a binary: {users:?}"
    );
    for lib in ["format", "s3"] {
        assert!(
            !dependencies(lib).iter().any(|d| d == "anyhow"),
            "{lib} depends on anyhow"
        );
    }
}

#[test]
fn dependencies_point_one_way() {
    let format = dependencies("format");
    for banned in [
        "object_store",
        "reqwest",
        "hyper",
        "tokio",
        "ureq",
        "http",
        "sysrec-s3",
        "capture",
        "replay",
        "nix",
    ] {
        assert!(
            !format.iter().any(|d| d == banned),
            "format depends on {banned}: it must stay free of network, ptrace and the crates above it"
        );
    }
    let s3 = dependencies("s3");
    for banned in ["capture", "replay"] {
        assert!(!s3.iter().any(|d| d == banned), "s3 depends on {banned}");
    }
    assert!(
        !dependencies("replay").iter().any(|d| d == "capture"),
        "replay depends on capture"
    );
}

#[test]
fn format_and_replay_touch_no_live_process() {
    let files: Vec<PathBuf> = ["format/src", "replay/src"]
        .iter()
        .flat_map(|d| sources(&root().join(d)))
        .collect();
    for needle in [
        "libc::ptrace",
        "libc::process_vm_readv",
        "libc::pidfd",
        "libc::kill",
        "libc::syscall",
        "use nix",
        " nix::",
        "(nix::",
    ] {
        let users = files_using(&files, needle);
        assert!(users.is_empty(), "`{needle}` used in {users:?}");
    }
}

#[test]
fn no_mod_rs_in_the_crates() {
    let mod_rs: Vec<String> = crate_sources()
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "mod.rs"))
        .map(|p| rel(p))
        .collect();
    assert!(mod_rs.is_empty(), "use foo.rs + foo/, not {mod_rs:?}");
}

/// Whether `text` names `file` as a word of its own (`fd.rs` is not named
/// by `remote_fd.rs`).
fn names(text: &str, file: &str) -> bool {
    text.match_indices(file).any(|(i, _)| {
        !text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn the_code_map_names_every_source_file() {
    let map = read(&root().join("ARCHITECTURE.md"));
    let missing: Vec<String> = crate_sources()
        .iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            // Unit tests beside their module are not part of the map.
            name.is_some_and(|n| n != "tests.rs" && n != "lib.rs" && !names(&map, &n))
        })
        .map(|p| rel(p))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name {missing:?}"
    );
}

/// The benchmark and build scripts are run by hand, so nothing else would
/// notice one that no longer parses: `bash -n` each, and the code map
/// names each.
#[test]
fn every_script_parses_and_is_mapped() {
    let map = read(&root().join("ARCHITECTURE.md"));
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 5, "scripts/ has {scripts:?}");
    for s in &scripts {
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(s)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{} does not parse: {}",
            rel(s),
            String::from_utf8_lossy(&out.stderr)
        );
        let name = s.file_name().expect("file name").to_string_lossy();
        assert!(
            map.contains(&*name),
            "ARCHITECTURE.md does not name {}",
            rel(s)
        );
    }
}
