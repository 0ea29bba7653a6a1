//! Lexical path resolution, as sysdig and Falco resolve paths: join with a
//! base directory, then remove `.`, `..` and repeated slashes without
//! touching the filesystem (the tracee's view of it may differ from ours,
//! and symlinks are resolved by Falco the same lexical way).

/// Resolves `path` against the absolute directory `base`. An absolute
/// `path` ignores `base`. Returns an absolute, normalised path.
pub fn resolve(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let joined: Vec<&[u8]> = if path.first() == Some(&b'/') {
        path.split(|&b| b == b'/').collect()
    } else {
        base.split(|&b| b == b'/')
            .chain(path.split(|&b| b == b'/'))
            .collect()
    };
    for p in joined {
        match p {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = Vec::with_capacity(path.len() + base.len() + 1);
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn cases() {
        let check = |base: &str, p: &str, want: &str| {
            assert_eq!(
                String::from_utf8_lossy(&resolve(base.as_bytes(), p.as_bytes())),
                want,
                "{base} + {p}"
            )
        };
        check("/home/u", "f.txt", "/home/u/f.txt");
        check("/home/u", "/etc//passwd", "/etc/passwd");
        check("/home/u", "../../../x", "/x");
        check("/", ".", "/");
        check("/a/b", "./c/../d/", "/a/b/d");
        check("/", "", "/");
    }
}
