//! `k8s.*`: the pod context capture recorded from inside the pod (service
//! account namespace, pod name, pod uid, downward API labels). Missing
//! outside a pod, and for what a pod cannot see of itself (controllers,
//! services, namespace labels, IPs).

use super::EventView;
use crate::rules::{FieldArg, FieldId, FieldRef, FieldValue};

impl<'a> EventView<'a> {
    /// `k8s.*`.
    pub(super) fn k8s_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let k = self.ctx.kubernetes.as_ref()?;
        let some = |s: &'a str| (!s.is_empty()).then_some(V::Str(s));
        match f.id {
            F::K8sNsName => some(&k.namespace),
            F::K8sPodName => some(&k.pod_name),
            F::K8sPodUid | F::K8sPodId => some(&k.pod_uid),
            F::K8sPodLabel => match &f.arg {
                FieldArg::Key(key) => k
                    .labels
                    .iter()
                    .find(|l| *l.key == **key)
                    .map(|l| V::Str(&l.value)),
                _ => None,
            },
            F::K8sPodLabels if !k.labels.is_empty() => self.compose(|out, v| {
                let Some(k) = v.ctx.kubernetes.as_ref() else {
                    return false;
                };
                super::container::push_labels(out, &k.labels);
                true
            }),
            _ => None,
        }
    }
}
