//! Which container, pod and task capture runs in, from the files a
//! container offers to the processes inside it. Pure functions over file
//! contents, so each source is tested with what real platforms show.
//!
//! Sources of the container id, in the order they decide
//! ([`decide`]): an explicit `--container-id`; `/proc/self/cgroup` (cgroup
//! v1 paths, and v2 paths when the container has no cgroup namespace);
//! `/proc/self/mountinfo` (the runtime bind-mounts `/etc/hostname`,
//! `/etc/hosts` and `/etc/resolv.conf` from a directory named after the
//! container, which a cgroup namespace does not hide); and last the ECS
//! task metadata's `DockerId` (`meta::apply_ecs`, fetched later).

use trace_format::model::{ContainerMount, Label};

/// `--container-id` decided.
pub const SOURCE_OVERRIDE: &str = "override";
/// `/proc/self/cgroup` decided.
pub const SOURCE_CGROUP: &str = "cgroup";
/// `/proc/self/mountinfo` decided.
pub const SOURCE_MOUNTINFO: &str = "mountinfo";
/// The ECS task metadata's `DockerId` decided.
pub const SOURCE_ECS: &str = "ecs";

/// The container id and the source that decided it; `None` on a host (or
/// in a container that shows none of them).
pub fn decide(
    override_id: Option<&str>,
    cgroup: &str,
    mountinfo: &str,
) -> Option<(String, &'static str)> {
    if let Some(id) = override_id.map(str::trim).filter(|s| !s.is_empty()) {
        return Some((id.to_string(), SOURCE_OVERRIDE));
    }
    if let Some(id) = from_cgroup(cgroup) {
        return Some((id, SOURCE_CGROUP));
    }
    from_mountinfo(mountinfo).map(|id| (id, SOURCE_MOUNTINFO))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A container id in `/proc/self/cgroup`: Docker `/docker/<id>` and
/// `docker-<id>.scope`, containerd `cri-containerd-<id>.scope` and CRI-O
/// `crio-<id>.scope` (also under `kubepods`), ECS on EC2
/// `/ecs/<task>/<id>` and `ecstasks-*.slice/docker-<id>.scope`, and Fargate
/// `<32 hex>-<digits>`. `None` for a host or a namespaced `0::/`.
pub fn from_cgroup(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for seg in path.rsplit('/') {
            let seg = seg.strip_suffix(".scope").unwrap_or(seg);
            // crio-conmon-<id> is the runtime monitor, not the container.
            if seg.starts_with("crio-conmon-") {
                continue;
            }
            let cand = seg.rsplit(['-', ':']).next().unwrap_or("");
            if is_hex(cand, 64) {
                return Some(cand.to_ascii_lowercase());
            }
            // ECS on Fargate: "<32 hex task id>-<digits>" container ids.
            if let Some((hexpart, digits)) = seg.split_once('-')
                && is_hex(hexpart, 32)
                && !digits.is_empty()
                && digits.len() <= 20
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Some(seg.to_string());
            }
        }
    }
    None
}

/// A pod uid in a cgroup path: `pod<uid>` under `kubepods` (v1), or
/// `kubepods-<qos>-pod<uid with _>.slice` (systemd driver).
pub fn pod_uid_from_cgroup(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        if !path.contains("kubepods") {
            continue;
        }
        for seg in path.split('/') {
            let seg = seg.strip_suffix(".slice").unwrap_or(seg);
            if let Some(i) = seg.rfind("pod") {
                let uid = seg[i + 3..].replace('_', "-");
                if is_uuid(&uid) {
                    return Some(uid);
                }
            }
        }
    }
    None
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        })
}

/// One line of `/proc/PID/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountLine {
    /// Field 4: the mount's root within its filesystem.
    pub root: String,
    /// Field 5: the mount point.
    pub mount_point: String,
    /// Field 6: per-mount options.
    pub options: String,
    /// The optional fields (`shared:N`, `master:N`, ...).
    pub optional: Vec<String>,
    /// The filesystem type after the `-`.
    pub fstype: String,
}

/// Parses mountinfo; malformed lines are skipped. Paths are unescaped
/// (`\040` is a space).
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let sep = f.iter().position(|&x| x == "-")?;
            if sep < 6 {
                return None;
            }
            Some(MountLine {
                root: unescape(f[3]),
                mount_point: unescape(f[4]),
                options: f[5].to_string(),
                optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
                fstype: f.get(sep + 1).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = b.get(i + 1..i + 4)
            && oct.iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push(
                oct.iter()
                    .fold(0u8, |a, c| a.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The files a container runtime bind-mounts from a per-container directory.
const RUNTIME_FILES: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// A container id in mountinfo: the root of the `/etc/hostname`,
/// `/etc/hosts` or `/etc/resolv.conf` bind mount is
/// `.../containers/<64 hex>/...` (Docker: `/var/lib/docker/containers/<id>/`;
/// Podman and CRI-O: `.../overlay-containers/<id>/userdata/`). containerd
/// mounts these from `sandboxes/<id>` (the pod sandbox, not the container)
/// and kubelet from `pods/<uid>`, which name no container and are not used.
pub fn from_mountinfo(text: &str) -> Option<String> {
    let mounts = parse_mountinfo(text);
    for file in RUNTIME_FILES {
        // The last mount on a path is the one in effect (a nested
        // container's runtime mounts over its parent's).
        let Some(m) = mounts.iter().rev().find(|m| m.mount_point == file) else {
            continue;
        };
        let segs: Vec<&str> = m.root.split('/').collect();
        for w in segs.windows(2) {
            if (w[0] == "containers" || w[0] == "overlay-containers") && is_hex(w[1], 64) {
                return Some(w[1].to_ascii_lowercase());
            }
        }
    }
    None
}

/// A pod uid from kubelet's paths in mountinfo
/// (`/var/lib/kubelet/pods/<uid>/etc-hosts`, volumes, service account).
pub fn pod_uid_from_mountinfo(text: &str) -> Option<String> {
    parse_mountinfo(text).iter().find_map(|m| {
        let segs: Vec<&str> = m.root.split('/').collect();
        segs.windows(3)
            .find(|w| w[0] == "kubelet" && w[1] == "pods" && is_uuid(w[2]))
            .map(|w| w[2].to_string())
    })
}

/// The container's bind mounts as Falco's `container.mount*` fields list
/// them: mounts whose root is not their filesystem's root (a file or
/// directory bound from elsewhere), plus the runtime's own mounts of
/// `/etc/hostname`-like files excluded (Docker does not list those).
pub fn container_mounts(text: &str) -> Vec<ContainerMount> {
    parse_mountinfo(text)
        .into_iter()
        .filter(|m| m.root != "/" && !RUNTIME_FILES.contains(&m.mount_point.as_str()))
        .take(1024)
        .map(|m| {
            let propagation = if m.optional.iter().any(|o| o.starts_with("shared:")) {
                "shared"
            } else if m.optional.iter().any(|o| o.starts_with("master:")) {
                "slave"
            } else {
                "private"
            };
            ContainerMount {
                rdwr: m.options.split(',').any(|o| o == "rw"),
                source: m.root,
                dest: m.mount_point,
                mode: m.options,
                propagation: propagation.into(),
            }
        })
        .collect()
}

/// Whether effective capabilities `cap_eff` are every capability the
/// kernel knows (`/proc/sys/kernel/cap_last_cap`): what `docker run
/// --privileged` (and a Kubernetes privileged container) gives. A container
/// given every capability with `--cap-add ALL` looks the same from inside.
pub fn privileged(cap_eff: u64, cap_last_cap: u32) -> bool {
    let mask = if cap_last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (cap_last_cap + 1)) - 1
    };
    cap_last_cap > 0 && cap_eff & mask == mask
}

/// Pod labels from a downward API file (`key="value"` lines, values
/// quoted Go-style).
pub fn parse_downward_labels(text: &str) -> Vec<Label> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            let mut out = String::with_capacity(v.len());
            let mut esc = false;
            for c in v.chars() {
                if esc {
                    out.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        c => c,
                    });
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    out.push(c);
                }
            }
            Some(Label {
                key: k.trim().to_string(),
                value: out,
            })
        })
        .take(1024)
        .collect()
}

/// Prefix of the environment variables that give one pod label each: the
/// rest of the name is the label's key, the value its value (a downward
/// API `env` entry with `fieldRef: metadata.labels['KEY']`).
pub const POD_LABEL_ENV_PREFIX: &str = "SYSREC_POD_LABEL_";

/// Adds to `labels` the pod labels given by environment variables named
/// [`POD_LABEL_ENV_PREFIX`]`KEY`, in name order, unless the labels file
/// already gave `KEY`; at most 1024 labels in all.
pub fn add_env_labels<K: AsRef<str>, V: AsRef<str>>(
    labels: &mut Vec<Label>,
    vars: impl IntoIterator<Item = (K, V)>,
) {
    let mut from_env: Vec<Label> = vars
        .into_iter()
        .filter_map(|(k, v)| {
            let key = k.as_ref().strip_prefix(POD_LABEL_ENV_PREFIX)?;
            (!key.is_empty()).then(|| Label {
                key: key.to_string(),
                value: v.as_ref().to_string(),
            })
        })
        .collect();
    from_env.sort_by(|a, b| a.key.cmp(&b.key));
    for l in from_env {
        if labels.len() >= 1024 {
            break;
        }
        if !labels.iter().any(|x| x.key == l.key) {
            labels.push(l);
        }
    }
}

#[cfg(test)]
mod tests;
