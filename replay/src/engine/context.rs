//! What a trace knows about the system it was recorded on, read once per
//! chunk from its metadata: host name, container, users and groups.

use std::collections::HashMap;

use trace_format::model::{ContainerMount, Ecs, Kubernetes, TraceMeta, User};

/// Trace-wide facts the fields need (`evt.hostname`, `user.name`,
/// `container.id`).
#[derive(Clone, Debug, Default)]
pub struct TraceContext {
    /// `evt.hostname`.
    pub hostname: String,
    /// The container the workload ran in, from `/proc/self/cgroup` at
    /// capture time; empty on a host.
    pub container_id: String,
    /// ECS task metadata, when the trace was recorded on ECS.
    pub ecs: Option<Ecs>,
    /// Users of the workload's root (`/etc/passwd`), by uid.
    pub users: HashMap<u32, User>,
    /// Group names of the workload's root (`/etc/group`), by gid.
    pub groups: HashMap<u32, String>,
    /// Wall-clock start of the capture (ns), for `evt.reltime`.
    pub start_wall_ns: u64,
    /// Kubernetes pod context, when recorded in a pod.
    pub kubernetes: Option<Kubernetes>,
    /// Whether the container had every capability (`container.privileged`).
    pub privileged: bool,
    /// The container's bind mounts (`container.mount*`).
    pub mounts: Vec<ContainerMount>,
}

impl TraceContext {
    /// Builds the context from a chunk's metadata.
    pub fn from_meta(meta: &TraceMeta) -> TraceContext {
        TraceContext {
            hostname: meta.hostname.clone(),
            container_id: meta.container_id.clone(),
            ecs: meta.ecs.clone(),
            users: meta.users.iter().map(|u| (u.uid, u.clone())).collect(),
            groups: meta
                .groups
                .iter()
                .map(|g| (g.gid, String::from_utf8_lossy(&g.name).into_owned()))
                .collect(),
            start_wall_ns: meta.start_wall_ns,
            kubernetes: meta.kubernetes.clone(),
            privileged: meta.container_privileged,
            mounts: meta.container_mounts.clone(),
        }
    }

    /// Whether the trace was recorded in a container.
    pub fn in_container(&self) -> bool {
        !self.container_id.is_empty()
    }

    /// The user with `uid`, if the trace's passwd data has it.
    pub fn user(&self, uid: u32) -> Option<&User> {
        self.users.get(&uid)
    }

    /// `container.id` as Falco's container plugin reports it: the short
    /// (12 character) id, or `host` for a process outside any container.
    pub fn container_id(&self) -> &str {
        if self.container_id.is_empty() {
            "host"
        } else {
            // Ids are hex; a crafted trace may hold anything, so never cut
            // inside a character.
            self.container_id.get(..12).unwrap_or(&self.container_id)
        }
    }

    /// `container.full_id`.
    pub fn container_full_id(&self) -> &str {
        if self.container_id.is_empty() {
            "host"
        } else {
            &self.container_id
        }
    }

    /// `container.name`: `host` on a host, the ECS container name when
    /// known, else missing.
    pub fn container_name(&self) -> Option<&str> {
        if self.container_id.is_empty() {
            return Some("host");
        }
        self.ecs
            .as_ref()
            .map(|e| e.container_name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// `container.image`, `.repository`, `.tag`, `.digest`: empty on a
    /// host (as the container plugin reports), from ECS metadata in a task,
    /// else missing.
    pub fn image(&self) -> Option<ImageRef<'_>> {
        if self.container_id.is_empty() {
            return Some(ImageRef {
                full: "",
                repository: "",
                tag: "",
                digest: "",
            });
        }
        let ecs = self.ecs.as_ref()?;
        let full = ecs.image.as_str();
        if full.is_empty() {
            return None;
        }
        let (name, digest) = match full.split_once('@') {
            Some((n, d)) => (n, d),
            None => (full, ecs.image_digest.as_str()),
        };
        // A tag follows the last ':' after the last '/' (a registry may
        // carry a port: `host:5000/repo:tag`).
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
            None => (name, ""),
        };
        Some(ImageRef {
            full,
            repository,
            tag,
            digest,
        })
    }
}

/// A container image reference split as Falco reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// As given (`repo:tag`).
    pub full: &'a str,
    /// `container.image.repository`.
    pub repository: &'a str,
    /// `container.image.tag`.
    pub tag: &'a str,
    /// `container.image.digest`.
    pub digest: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_ecs_images() {
        let host = TraceContext::default();
        assert_eq!(host.container_id(), "host");
        assert_eq!(host.container_name(), Some("host"));
        assert_eq!(host.image().map(|i| i.repository), Some(""));
        let task = TraceContext {
            container_id: "0123456789abcdef0123".into(),
            ecs: Some(Ecs {
                container_name: "web".into(),
                image: "registry.example:5000/team/nginx:1.25".into(),
                ..Ecs::default()
            }),
            ..TraceContext::default()
        };
        assert_eq!(task.container_id(), "0123456789ab");
        assert_eq!(task.container_full_id(), "0123456789abcdef0123");
        assert_eq!(task.container_name(), Some("web"));
        let img = task.image().unwrap();
        assert_eq!(img.repository, "registry.example:5000/team/nginx");
        assert_eq!(img.tag, "1.25");
        let bare = TraceContext {
            container_id: "abc".into(),
            ..TraceContext::default()
        };
        assert_eq!(bare.container_name(), None);
        assert!(bare.image().is_none());
    }
}
