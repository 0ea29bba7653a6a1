//! `container.*`: what the trace metadata says of the container it ran in.
//!
//! On a host, the fields Falco's container plugin answers for the host
//! (`id`, `name`, `type`, the image fields, empty) are answered; in a
//! container, what capture recorded (id, ECS metadata, capabilities,
//! mounts, start); the rest is missing.

use super::EventView;
use crate::rules::{FieldArg, FieldId, FieldRef, FieldValue};
use trace_format::model::{ContainerMount, Label};

impl<'a> EventView<'a> {
    /// `container.*`.
    pub(super) fn container_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ctx = self.ctx;
        let inside = ctx.in_container();
        match f.id {
            F::ContainerId => Some(V::Str(ctx.container_id())),
            F::ContainerFullId => Some(V::Str(ctx.container_full_id())),
            F::ContainerName => ctx.container_name().map(V::Str),
            F::ContainerImage => ctx.image().map(|i| V::Str(i.full)),
            F::ContainerImageRepository => ctx.image().map(|i| V::Str(i.repository)),
            F::ContainerImageTag => ctx.image().map(|i| V::Str(i.tag)),
            F::ContainerImageDigest => ctx.image().map(|i| V::Str(i.digest)),
            F::ContainerImageId => ctx.image().filter(|_| !inside).map(|_| V::Str("")),
            F::ContainerType if !inside => Some(V::Str("host")),
            F::ContainerType if ctx.ecs.is_some() => Some(V::Str("ecs")),
            F::ContainerHealthcheck | F::ContainerLivenessProbe | F::ContainerReadinessProbe
                if !inside =>
            {
                Some(V::Str(""))
            }
            // Labels: ECS's container document (Docker labels); a plain
            // Docker container cannot see its own.
            F::ContainerLabel => match (&f.arg, &ctx.ecs) {
                (FieldArg::Key(key), Some(e)) if inside => e
                    .labels
                    .iter()
                    .find(|l| *l.key == **key)
                    .map(|l| V::Str(&l.value)),
                _ => None,
            },
            F::ContainerLabels
                if inside && ctx.ecs.as_ref().is_some_and(|e| !e.labels.is_empty()) =>
            {
                self.compose(|out, v| {
                    let Some(e) = v.ctx.ecs.as_ref() else {
                        return false;
                    };
                    push_labels(out, &e.labels);
                    true
                })
            }
            F::ContainerPrivileged if inside => Some(V::Bool(ctx.privileged)),
            // capture is the container's entrypoint: it started with the
            // container (within the runtime's setup time).
            F::ContainerStartTs if inside => Some(V::U64(ctx.start_wall_ns)),
            F::ContainerDuration if inside => {
                Some(V::U64(self.wall_ns.saturating_sub(ctx.start_wall_ns)))
            }
            F::ContainerMounts if inside => self.compose(|out, v| {
                for (i, m) in v.ctx.mounts.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_mount(out, m);
                }
                true
            }),
            F::ContainerMount
            | F::ContainerMountSource
            | F::ContainerMountDest
            | F::ContainerMountMode
            | F::ContainerMountRdwr
            | F::ContainerMountPropagation
                if inside =>
            {
                let m = find_mount(&ctx.mounts, f);
                Some(match (f.id, m) {
                    (_, None) => V::Str("N/A"),
                    (F::ContainerMountSource, Some(m)) => V::Str(&m.source),
                    (F::ContainerMountDest, Some(m)) => V::Str(&m.dest),
                    (F::ContainerMountMode, Some(m)) => V::Str(&m.mode),
                    (F::ContainerMountRdwr, Some(m)) => {
                        V::Str(if m.rdwr { "true" } else { "false" })
                    }
                    (F::ContainerMountPropagation, Some(m)) => V::Str(&m.propagation),
                    (_, Some(m)) => {
                        let m = m.clone();
                        return self.compose(|out, _| {
                            push_mount(out, &m);
                            true
                        });
                    }
                })
            }
            _ => None,
        }
    }
}

/// The mount a `container.mount*[KEY]` field names: by index, or (as
/// Falco) `container.mount.source[DEST]` by its destination glob and the
/// other fields by their source glob.
fn find_mount<'m>(mounts: &'m [ContainerMount], f: &FieldRef) -> Option<&'m ContainerMount> {
    match &f.arg {
        FieldArg::Index(i) => mounts.get(*i as usize),
        FieldArg::Key(k) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => {
            k.parse::<usize>().ok().and_then(|i| mounts.get(i))
        }
        FieldArg::Key(k) => {
            let g = crate::rules::glob::Glob::new(k, false);
            let by_source = f.id != FieldId::ContainerMountSource;
            mounts.iter().find(|m| {
                let s = if by_source { &m.source } else { &m.dest };
                g.matches(s.as_bytes())
            })
        }
        FieldArg::None => None,
    }
}

/// `key:value, key:value`, as Falco lists labels.
pub(super) fn push_labels(out: &mut String, labels: &[Label]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.key);
        out.push(':');
        out.push_str(&l.value);
    }
}

/// `source:dest:mode:rdwr:propagation`, as Falco lists a mount.
fn push_mount(out: &mut String, m: &ContainerMount) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{}:{}:{}:{}:{}",
        m.source, m.dest, m.mode, m.rdwr, m.propagation
    );
}
