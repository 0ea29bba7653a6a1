//! `user.*` and `group.*`: names from the passwd and group data recorded
//! with the trace.

use super::EventView;
use crate::rules::{FieldId, FieldRef, FieldValue};

impl<'a> EventView<'a> {
    /// `user.*` and `group.*`.
    pub(super) fn user_field(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
        use FieldId as F;
        use FieldValue as V;
        let ctx = self.ctx;
        match f.id {
            F::UserUid => self.info().map(|i| V::U64(i.euid.into())),
            F::UserName | F::UserHomedir | F::UserShell => {
                let uid = self.info()?.euid;
                let Some(u) = ctx.user(uid) else {
                    return (f.id == F::UserName).then_some(V::Str(unknown_user(uid)));
                };
                let b = match f.id {
                    F::UserName => &u.name,
                    F::UserHomedir => &u.home,
                    _ => &u.shell,
                };
                self.text(b)
            }
            F::UserLoginuid => self.info().map(|i| {
                V::I64(if i.loginuid == u32::MAX {
                    -1
                } else {
                    i.loginuid.into()
                })
            }),
            F::UserLoginname => {
                let l = self.info()?.loginuid;
                if l == u32::MAX {
                    return None;
                }
                let Some(u) = ctx.user(l) else {
                    return Some(V::Str(unknown_user(l)));
                };
                self.text(&u.name)
            }
            F::GroupGid => self.info().map(|i| V::U64(i.egid.into())),
            F::GroupName => {
                let gid = self.info()?.egid;
                ctx.groups.get(&gid).map(|g| V::Str(g))
            }

            _ => None,
        }
    }
}

/// The name libsinsp gives a uid without a passwd entry: `root` for 0,
/// else `<NA>`.
fn unknown_user(uid: u32) -> &'static str {
    if uid == 0 { "root" } else { "<NA>" }
}
