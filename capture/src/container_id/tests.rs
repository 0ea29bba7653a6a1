//! Each id source against what real platforms show (shapes as quoted in
//! public issue threads of tracing and APM agents; ids are made up).

use super::*;

const ID: &str = "3601745b3bd54d9780436faa5f0e4f72bb46231663bb99a6bb892764917832c2";
const SANDBOX: &str = "9f1d2c3b4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const POD: &str = "8c0f2e5c-3b9a-4b5e-9a0f-2f7e0c0f0a1b";

#[test]
fn docker_cgroup_v1() {
    let text = format!(
        "12:devices:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/system.slice/containerd.service\n"
    );
    assert_eq!(from_cgroup(&text).as_deref(), Some(ID));
}

#[test]
fn docker_cgroup_v2_without_namespace() {
    let text = format!("0::/system.slice/docker-{ID}.scope\n");
    assert_eq!(from_cgroup(&text).as_deref(), Some(ID));
}

#[test]
fn kubepods_containerd_and_crio() {
    let v1 = format!("11:memory:/kubepods/burstable/pod{POD}/{ID}\n");
    assert_eq!(from_cgroup(&v1).as_deref(), Some(ID));
    assert_eq!(pod_uid_from_cgroup(&v1).as_deref(), Some(POD));
    let pod_ = POD.replace('-', "_");
    let v2 = format!(
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice/cri-containerd-{ID}.scope\n"
    );
    assert_eq!(from_cgroup(&v2).as_deref(), Some(ID));
    assert_eq!(pod_uid_from_cgroup(&v2).as_deref(), Some(POD));
    let crio = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_}.slice/crio-{ID}.scope\n"
    );
    assert_eq!(from_cgroup(&crio).as_deref(), Some(ID));
    // conmon, CRI-O's monitor, is not the container.
    let conmon = format!("0::/kubepods.slice/crio-conmon-{SANDBOX}.scope\n");
    assert_eq!(from_cgroup(&conmon), None);
}

#[test]
fn ecs_on_ec2_v1_and_v2() {
    let v1 = format!(
        "9:perf_event:/ecs/55091c13b8cf4801b527f4601742204d/{ID}\n8:memory:/ecs/55091c13b8cf4801b527f4601742204d/{ID}\n"
    );
    assert_eq!(from_cgroup(&v1).as_deref(), Some(ID));
    let v2 = format!(
        "0::/ecstasks.slice/ecstasks-4c9a2b0e7b3a4e4f8b5e3d1c2a0f9e8d.slice/docker-{ID}.scope\n"
    );
    assert_eq!(from_cgroup(&v2).as_deref(), Some(ID));
}

#[test]
fn fargate() {
    let text = "11:hugetlb:/ecs/5a081c13b6ba4e4f8a6c8f3f0e5e6b2b/5a081c13b6ba4e4f8a6c8f3f0e5e6b2b-2645263297\n10:pids:/ecs/5a081c13b6ba4e4f8a6c8f3f0e5e6b2b/5a081c13b6ba4e4f8a6c8f3f0e5e6b2b-2645263297\n";
    assert_eq!(
        from_cgroup(text).as_deref(),
        Some("5a081c13b6ba4e4f8a6c8f3f0e5e6b2b-2645263297")
    );
}

#[test]
fn hosts_and_namespaced_cgroups_have_no_id() {
    assert_eq!(from_cgroup("0::/\n"), None);
    assert_eq!(
        from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
        None
    );
    assert_eq!(
        from_cgroup("12:pids:/user.slice\n1:name=systemd:/init.scope\n"),
        None
    );
    assert_eq!(from_cgroup(""), None);
}

fn docker_mountinfo() -> String {
    format!(
        "1136 1118 0:52 / / rw,relatime master:590 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/var/lib/docker/overlay2/abc/work\n\
1137 1136 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n\
1140 1136 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n\
1147 1136 259:1 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/nvme0n1p1 rw,discard\n\
1148 1136 259:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p1 rw,discard\n\
1149 1136 259:1 /var/lib/docker/containers/{ID}/hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p1 rw,discard\n\
1150 1136 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw,size=4011272k\n\
1151 1136 259:1 /run/docker.sock /var/run/docker.sock rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
    )
}

#[test]
fn docker_mountinfo_under_cgroup_v2() {
    assert_eq!(from_mountinfo(&docker_mountinfo()).as_deref(), Some(ID));
    // What a container on a cgroup v2 host reads: the mountinfo decides.
    assert_eq!(
        decide(None, "0::/\n", &docker_mountinfo()),
        Some((ID.to_string(), SOURCE_MOUNTINFO))
    );
    // /var/lib/docker on its own filesystem: the root is relative to it.
    let own_fs = format!(
        "40 30 8:17 /containers/{ID}/hostname /etc/hostname rw,relatime - xfs /dev/sdb1 rw\n"
    );
    assert_eq!(from_mountinfo(&own_fs).as_deref(), Some(ID));
    // A nested container: the last mount on /etc/hostname is in effect.
    let nested = format!(
        "{}41 40 0:60 /containers/{SANDBOX}/hostname /etc/hostname rw - tmpfs tmpfs rw\n",
        docker_mountinfo()
    );
    assert_eq!(from_mountinfo(&nested).as_deref(), Some(SANDBOX));
    // A plain file mounted over it: not a runtime's.
    let plain = format!(
        "{}42 40 0:61 /tmp/h /etc/hostname rw - tmpfs tmpfs rw\n",
        docker_mountinfo()
    );
    // /etc/hosts still names the container.
    assert_eq!(from_mountinfo(&plain).as_deref(), Some(ID));
}

#[test]
fn podman_mountinfo() {
    let text = format!(
        "700 690 0:45 /containers/storage/overlay-containers/{ID}/userdata/hostname /etc/hostname rw,nosuid,nodev,relatime - tmpfs tmpfs rw\n"
    );
    assert_eq!(from_mountinfo(&text).as_deref(), Some(ID));
}

#[test]
fn kubernetes_mountinfo_names_the_pod_not_the_container() {
    let text = format!(
        "2530 2512 259:1 /var/lib/kubelet/pods/{POD}/etc-hosts /etc/hosts rw,noatime - xfs /dev/nvme0n1p1 rw\n\
2531 2512 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{SANDBOX}/hostname /etc/hostname rw,noatime - xfs /dev/nvme0n1p1 rw\n\
2532 2512 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{SANDBOX}/resolv.conf /etc/resolv.conf rw,noatime - xfs /dev/nvme0n1p1 rw\n\
2533 2512 0:1234 / /run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=7829796k\n"
    );
    assert_eq!(from_mountinfo(&text), None);
    assert_eq!(pod_uid_from_mountinfo(&text).as_deref(), Some(POD));
}

#[test]
fn decision_order() {
    let cg = format!("0::/system.slice/docker-{ID}.scope\n");
    assert_eq!(
        decide(Some(" my-id "), &cg, &docker_mountinfo()),
        Some(("my-id".to_string(), SOURCE_OVERRIDE))
    );
    assert_eq!(
        decide(Some(""), &cg, ""),
        Some((ID.to_string(), SOURCE_CGROUP))
    );
    assert_eq!(decide(None, "0::/\n", "garbage\n\n- - -\n"), None);
}

#[test]
fn mounts_and_escapes() {
    let m = container_mounts(&docker_mountinfo());
    let dests: Vec<&str> = m.iter().map(|m| m.dest.as_str()).collect();
    assert_eq!(dests, ["/proc/kcore", "/var/run/docker.sock"]);
    assert_eq!(m[1].source, "/run/docker.sock");
    assert!(m[1].rdwr);
    assert_eq!(m[1].propagation, "shared");
    assert_eq!(m[0].propagation, "private");
    let esc = parse_mountinfo("1 0 8:1 /a\\040b /mnt\\011x rw - ext4 /dev/x rw\n");
    assert_eq!(esc[0].root, "/a b");
    assert_eq!(esc[0].mount_point, "/mnt\tx");
}

#[test]
fn privileged_is_every_capability() {
    assert!(privileged(0x000001ff_ffffffff, 40));
    assert!(privileged(u64::MAX, 40));
    // Docker's default set.
    assert!(!privileged(0x00000000_a80425fb, 40));
    assert!(!privileged(0, 0));
}

#[test]
fn downward_api_labels() {
    let l = parse_downward_labels("app=\"web\"\npod-template-hash=\"5d8f\\\"x\"\n");
    assert_eq!(l[0].key, "app");
    assert_eq!(l[0].value, "web");
    assert_eq!(l[1].value, "5d8f\"x");
}

#[test]
fn pod_labels_from_environment_variables() {
    let mut labels = parse_downward_labels("app=\"web\"\n");
    add_env_labels(
        &mut labels,
        [
            ("SYSREC_POD_LABEL_tier", "frontend"),
            ("SYSREC_POD_LABEL_app", "ignored: the file said it"),
            ("SYSREC_POD_LABEL_", "no key"),
            ("HOME", "/root"),
            ("SYSREC_POD_LABEL_app.kubernetes.io-name", "web"),
        ],
    );
    let got: Vec<(&str, &str)> = labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("app", "web"),
            ("app.kubernetes.io-name", "web"),
            ("tier", "frontend")
        ]
    );
}
