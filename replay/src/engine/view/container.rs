//! `container.*`: what the trace metadata says of the container it ran in.

use super::EventView;
use crate::rules::{FieldId, FieldRef, FieldValue};

impl<'a> EventView<'a> {
    /// `container.*`.
    pub(super) fn container_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ctx = self.ctx;
        match f.id {
            F::ContainerId => Some(V::Str(ctx.container_id())),
            F::ContainerFullId => Some(V::Str(ctx.container_full_id())),
            F::ContainerName => ctx.container_name().map(V::Str),
            F::ContainerImage => ctx.image().map(|i| V::Str(i.full)),
            F::ContainerImageRepository => ctx.image().map(|i| V::Str(i.repository)),
            F::ContainerImageTag => ctx.image().map(|i| V::Str(i.tag)),
            F::ContainerImageDigest => ctx.image().map(|i| V::Str(i.digest)),
            F::ContainerImageId => ctx
                .image()
                .filter(|_| ctx.container_id.is_empty())
                .map(|_| V::Str("")),
            F::ContainerType if ctx.container_id.is_empty() => Some(V::Str("host")),
            F::ContainerType if ctx.ecs.is_some() => Some(V::Str("ecs")),
            F::ContainerHealthcheck | F::ContainerLivenessProbe | F::ContainerReadinessProbe
                if ctx.container_id.is_empty() =>
            {
                Some(V::Str(""))
            }

            _ => None,
        }
    }
}
