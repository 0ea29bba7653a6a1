//! capture as a container's entrypoint, in a container the test builds
//! itself with `unshare` (mount, cgroup, UTS and PID namespaces): the
//! cgroup namespace shows `0::/`, so the id comes from the runtime's
//! bind-mounted `/etc/hostname` under a Docker-like
//! `.../containers/<64 hex>/hostname`; a loopback server serves ECS task
//! metadata v4. Falco's container rules must fire there, and the same
//! actions on the host must raise none of them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;

const ID: &str = "3601745b3bd54d9780436faa5f0e4f72bb46231663bb99a6bb892764917832c2";

/// The container rules the workload below triggers.
const CONTAINER_RULES: [&str; 4] = [
    "Launch Excessively Capable Container",
    "Netcat Remote Code Execution in Container",
    "Launch Package Management Process in Container",
    "Launch Suspicious Network Tool in Container",
];

/// A loopback HTTP server answering the ECS task metadata v4 container
/// and task documents (real-shaped, ids made up); killed on drop.
struct EcsServer {
    child: Child,
    port: u16,
}

const ECS_SERVER: &str = r#"
import http.server, json, sys
container = {"DockerId": "ID", "Name": "web", "DockerName": "ecs-web-3-web-9a8b",
  "Image": "public.ecr.aws/nginx/nginx:1.27", "ImageID": "sha256:5a0f1b",
  "Labels": {"com.amazonaws.ecs.cluster": "prod", "com.amazonaws.ecs.container-name": "web",
    "com.amazonaws.ecs.task-arn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "com.amazonaws.ecs.task-definition-family": "web", "com.amazonaws.ecs.task-definition-version": "3"},
  "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING", "Type": "NORMAL"}
task = {"Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
  "TaskARN": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
  "Family": "web", "Revision": "3", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
  "AvailabilityZone": "eu-west-1a", "LaunchType": "EC2", "Containers": [container]}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        doc = task if self.path.endswith("/task") else container
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

impl EcsServer {
    fn start() -> EcsServer {
        let mut child = Command::new("python3")
            .args(["-c", &ECS_SERVER.replace("\"ID\"", &format!("\"{ID}\""))])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3: {e}"));
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        BufReader::new(out).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("port {line:?}: {e}"));
        EcsServer { child, port }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/v4/0f1e2d3c-web", self.port)
    }
}

impl Drop for EcsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tools named as the rules know them (copies of `true`: the rules look
/// at names and arguments, not at what the tools do).
fn tools(w: &Work) -> String {
    for name in ["nc", "dpkg", "nmap"] {
        std::fs::copy("/bin/true", w.path(name)).unwrap();
    }
    let d = w.path("").display().to_string();
    format!("{d}/nc -e /bin/sh 127.0.0.1 9; {d}/dpkg -l; {d}/nmap -sn 127.0.0.1")
}

fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["-m", "-C", "-u", "-p", "-f", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "unshare of mount, cgroup, UTS and PID namespaces fails under CI"
        );
        eprintln!("skipped: cannot unshare namespaces");
    }
    ok
}

/// Runs `SETUP` then `exec capture -q -o TRACE EXTRA -- sh -c WORKLOAD`
/// under `unshare FLAGS`, with `ENV` set.
fn capture_unshared(
    w: &Work,
    flags: &[&str],
    setup: &str,
    extra: &str,
    workload: &str,
    env: &[(&str, String)],
) {
    capture_unshared_in(w, flags, setup, "", extra, workload, env);
}

/// [`capture_unshared`], with capture run by `WRAP` (a command prefix).
fn capture_unshared_in(
    w: &Work,
    flags: &[&str],
    setup: &str,
    wrap: &str,
    extra: &str,
    workload: &str,
    env: &[(&str, String)],
) {
    let script = format!(
        "set -e\nmount --make-rprivate /\n{setup}\nexec {wrap} '{cap}' -q -o '{trace}' {extra} -- sh -c \"$WORKLOAD\"\n",
        cap = capture_bin().display(),
        trace = w.trace_path().display(),
    );
    let mut c = Command::new("unshare");
    c.args(flags)
        .args(["sh", "-c", &script])
        .env("WORKLOAD", workload)
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .env_remove("HOSTNAME")
        .env_remove("POD_NAME")
        .env_remove("MY_POD_NAME");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = e2e_tests::run_with_timeout(&mut c, LIMIT);
    assert!(
        out.status.success(),
        "capture under unshare: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CONTAINER: [&str; 6] = ["-m", "-C", "-u", "-p", "-f", "--mount-proc"];

/// A Docker-like runtime directory on a tmpfs, its hostname file bound
/// over `/etc/hostname`, and the UTS name set.
fn docker_setup(w: &Work, hostname: &str) -> String {
    let rt = w.path("docker");
    std::fs::create_dir_all(&rt).unwrap();
    let rt = rt.display();
    format!(
        "mount -t tmpfs tmpfs '{rt}'\n\
         mkdir -p '{rt}/containers/{ID}'\n\
         echo {hostname} > '{rt}/containers/{ID}/hostname'\n\
         mount --bind '{rt}/containers/{ID}/hostname' /etc/hostname\n\
         hostname {hostname}"
    )
}

/// Not a container, whatever runs the test: a new cgroup namespace (`0::/`)
/// and plain files over the runtime's `/etc` files.
fn host_setup(w: &Work) -> String {
    let plain = w.path("plain");
    std::fs::write(&plain, "host\n").unwrap();
    let p = plain.display();
    format!(
        "for f in /etc/hostname /etc/hosts /etc/resolv.conf; do \
         if [ -e $f ]; then mount --bind '{p}' $f; fi; done"
    )
}

#[test]
fn container_rules_fire_in_a_container_and_not_on_the_host() {
    if !ptrace_permitted() || !e2e_tests::require("python3") || !can_unshare() {
        return;
    }
    let w = Work::new();
    let workload = tools(&w);
    let ecs = EcsServer::start();
    capture_unshared(
        &w,
        &CONTAINER,
        &docker_setup(&w, "web-ctr"),
        "",
        &workload,
        &[("ECS_CONTAINER_METADATA_URI_V4", ecs.uri())],
    );
    let t = w.trace();
    assert_eq!(t.meta.container_id, ID);
    assert_eq!(t.meta.container_id_source, "mountinfo");
    assert_eq!(t.meta.hostname, "web-ctr");
    let e = t.meta.ecs.clone().unwrap_or_default();
    assert_eq!(
        (e.container_name.as_str(), e.task_family.as_str()),
        ("web", "web")
    );
    assert_eq!(e.docker_id, ID);

    let (found, out) = alerts(&w.trace_path(), &["--rule-matching", "all", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rule in CONTAINER_RULES {
        let a = found
            .iter()
            .find(|a| a["rule"] == rule)
            .unwrap_or_else(|| panic!("`{rule}` did not fire: {:?}", rule_names(&found)));
        let f = &a["output_fields"];
        assert_eq!(f["container.id"], &ID[..12]);
        assert_eq!(f["container.name"], "web");
        assert_eq!(
            f["container.image.repository"],
            "public.ecr.aws/nginx/nginx"
        );
        assert_eq!(f["container.image.tag"], "1.27");
        assert_eq!(f["k8s.pod.name"], serde_json::Value::Null);
        let text = a["output"].as_str().unwrap_or("");
        assert!(
            text.ends_with(&format!(
                " container_id={} container_name=web container_image_repository=public.ecr.aws/nginx/nginx container_image_tag=1.27 k8s_pod_name=<NA> k8s_ns_name=<NA>",
                &ID[..12]
            )),
            "{text}"
        );
    }
    // capture is the container's PID 1: the workload's exec is the
    // container's start, evaluated once, with the container's facts (root
    // here: CAP_SYS_ADMIN and the like, so excessively capable).
    let started: Vec<_> = found
        .iter()
        .filter(|a| a["rule"] == "Launch Excessively Capable Container")
        .collect();
    assert_eq!(started.len(), 1, "{:?}", rule_names(&found));
    assert_eq!(started[0]["output_fields"]["proc.name"], "sh");
    // Privileged means every capability the kernel has; whether the test
    // runs with all of them depends on the machine.
    assert_eq!(
        found
            .iter()
            .any(|a| a["rule"] == "Launch Privileged Container"),
        t.meta.container_privileged
    );
    // --no-suggested-output: the rule's own output only.
    let (plain, _) = alerts(
        &w.trace_path(),
        &["--rule-matching", "all", "-q", "--no-suggested-output"],
    );
    assert_eq!(plain.len(), found.len());
    assert!(
        plain
            .iter()
            .all(|a| !a["output"].as_str().unwrap_or("").contains("container_id="))
    );

    // The same actions on the host: none of the container rules.
    let host = Work::new();
    let workload = tools(&host);
    capture_unshared(&host, &["-m", "-C"], &host_setup(&host), "", &workload, &[]);
    assert_eq!(host.trace().meta.container_id, "");
    let (on_host, _) = alerts(&host.trace_path(), &["--rule-matching", "all", "-q"]);
    let names = rule_names(&on_host);
    for rule in CONTAINER_RULES {
        assert!(
            !names.iter().any(|n| n == rule),
            "{rule} on the host: {names:?}"
        );
    }
    assert!(
        on_host
            .iter()
            .all(|a| a["output_fields"]["container.id"] == "host"),
        "{on_host:?}"
    );
}

#[test]
fn container_id_override_and_a_kubernetes_pod() {
    if !ptrace_permitted() || !can_unshare() {
        return;
    }
    let w = Work::new();
    let sa = w.path("sa");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("namespace"), "payments\n").unwrap();
    std::fs::copy("/bin/true", w.path("nc")).unwrap();
    let workload = format!("{} -e /bin/sh 127.0.0.1 9", w.path("nc").display());
    // The service account directory where kubelet mounts it (/var/run is
    // /run or holds it); a pod's hostname is its name.
    let setup = format!(
        "mount -t tmpfs tmpfs /run\n\
         mkdir -p /var/run/secrets/kubernetes.io/serviceaccount\n\
         mount --bind '{}' /var/run/secrets/kubernetes.io/serviceaccount\n\
         hostname web-5d8f-abcde",
        sa.display()
    );
    capture_unshared(
        &w,
        &CONTAINER,
        &setup,
        "--container-id my-container-id",
        &workload,
        &[("SYSREC_POD_LABEL_tier", "frontend".to_string())],
    );
    let t = w.trace();
    assert_eq!(t.meta.container_id, "my-container-id");
    assert_eq!(t.meta.container_id_source, "override");
    let k = t.meta.kubernetes.clone().unwrap_or_default();
    assert_eq!(k.namespace, "payments");
    assert_eq!(k.pod_name, "web-5d8f-abcde");
    // A label from the downward API's env convention.
    assert!(
        k.labels
            .iter()
            .any(|l| l.key == "tier" && l.value == "frontend"),
        "{:?}",
        k.labels
    );
    let (found, out) = alerts(&w.trace_path(), &["-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = found
        .iter()
        .find(|a| a["rule"] == "Netcat Remote Code Execution in Container")
        .unwrap_or_else(|| panic!("{:?}", rule_names(&found)));
    assert_eq!(a["output_fields"]["k8s.ns.name"], "payments");
    assert_eq!(a["output_fields"]["k8s.pod.name"], "web-5d8f-abcde");
    assert_eq!(a["output_fields"]["container.id"], "my-container");
}

/// capture run with a terminal: a new session on a pty (python's
/// `pty.spawn`), so the workload shell has a controlling tty.
const WITH_PTY: &str =
    "python3 -c 'import pty,sys; st=pty.spawn(sys.argv[1:]); sys.exit(st>>8 or st&127)'";

/// The container rules a shell with a terminal, a packet socket and a
/// stdout redirected to a loopback TCP connection raise.
const TERMINAL_NET_RULES: [&str; 3] = [
    "Terminal shell in container",
    "Packet socket created in container",
    "Redirect STDOUT/STDIN to Network Connection in Container",
];

/// The workload: a packet socket (whether or not the kernel allows it:
/// the rule looks at the request), stdout moved onto a TCP connection on
/// loopback, and an orphan: a subshell that waits for its parent shell
/// to be gone, then execs `orphanmark`.
fn terminal_net_workload(w: &Work) -> String {
    std::fs::copy("/bin/true", w.path("orphanmark")).unwrap();
    let mark = w.path("orphanmark").display().to_string();
    format!(
        "python3 -c 'import socket\ntry:\n socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\nexcept OSError:\n pass'; \
         python3 -c 'import socket,os\ns=socket.socket()\ns.bind((\"127.0.0.1\",0))\ns.listen()\nc=socket.create_connection(s.getsockname())\nos.dup2(c.fileno(),1)'; \
         p=$$; (i=0; while kill -0 $p 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; exec {mark}) & \
         exit 0"
    )
}

/// A rule naming the workload shell's and the orphan's execs, with their
/// parents as Falco shows them.
const ORPHAN_RULE: &str = "- rule: Orphan exec\n  desc: the shell and the orphan exec\n  condition: evt.type=execve and proc.name in (orphanmark, sh)\n  output: exec name=%proc.name ppid=%proc.ppid pname=%proc.pname\n  priority: WARNING\n";

#[test]
fn terminal_shell_packet_socket_and_redirect_in_a_container_not_on_the_host() {
    if !ptrace_permitted() || !e2e_tests::require("python3") || !can_unshare() {
        return;
    }
    let w = Work::new();
    let workload = terminal_net_workload(&w);
    capture_unshared_in(
        &w,
        &CONTAINER,
        &docker_setup(&w, "tty-ctr"),
        WITH_PTY,
        "",
        &workload,
        &[],
    );
    assert_eq!(w.trace().meta.container_id, ID);
    let rules = w.path("orphan.yaml");
    std::fs::write(&rules, ORPHAN_RULE).unwrap();
    let rules = rules.display().to_string();
    let (found, out) = alerts(
        &w.trace_path(),
        &["--rule-matching", "all", "-q", "--rules", &rules],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rule in TERMINAL_NET_RULES {
        let a = found
            .iter()
            .find(|a| a["rule"] == rule)
            .unwrap_or_else(|| panic!("`{rule}` did not fire: {:?}", rule_names(&found)));
        assert_eq!(a["output_fields"]["container.id"], &ID[..12], "{a}");
    }
    let shell = found
        .iter()
        .find(|a| a["rule"] == "Terminal shell in container")
        .unwrap();
    assert_eq!(shell["output_fields"]["proc.name"], "sh");
    assert_ne!(shell["output_fields"]["proc.tty"], 0);
    assert_eq!(
        shell["output_fields"]["proc.pname"],
        serde_json::Value::Null
    );
    let packet = found
        .iter()
        .find(|a| a["rule"] == "Packet socket created in container")
        .unwrap();
    assert!(
        packet["output_fields"]["evt.args"]
            .as_str()
            .unwrap_or("")
            .contains("AF_PACKET"),
        "{packet}"
    );
    let redirect = found
        .iter()
        .find(|a| a["rule"] == "Redirect STDOUT/STDIN to Network Connection in Container")
        .unwrap();
    assert_eq!(redirect["output_fields"]["fd.type"], "ipv4", "{redirect}");
    assert_eq!(
        redirect["output_fields"]["fd.sip"], "127.0.0.1",
        "{redirect}"
    );
    // The orphan's parent shell exited: it was reparented to the reaper,
    // capture (a child subreaper), which is not in the trace: no parent
    // name, and the parent pid is the workload shell's own parent.
    let exec_of = |name: &str| {
        found
            .iter()
            .find(|a| a["rule"] == "Orphan exec" && a["output_fields"]["proc.name"] == name)
            .unwrap_or_else(|| panic!("no exec of {name}: {found:?}"))
    };
    let orphan = exec_of("orphanmark");
    assert_eq!(
        orphan["output_fields"]["proc.pname"],
        serde_json::Value::Null
    );
    let capture_pid = exec_of("sh")["output_fields"]["proc.ppid"].clone();
    assert!(capture_pid.as_u64().is_some_and(|p| p > 0), "{capture_pid}");
    assert_eq!(
        orphan["output_fields"]["proc.ppid"], capture_pid,
        "{orphan}"
    );

    // The same on the host: none of these rules.
    let host = Work::new();
    let workload = terminal_net_workload(&host);
    capture_unshared_in(
        &host,
        &["-m", "-C"],
        &host_setup(&host),
        WITH_PTY,
        "",
        &workload,
        &[],
    );
    let (on_host, _) = alerts(&host.trace_path(), &["--rule-matching", "all", "-q"]);
    let names = rule_names(&on_host);
    for rule in TERMINAL_NET_RULES {
        assert!(
            !names.iter().any(|n| n == rule),
            "{rule} on the host: {names:?}"
        );
    }
}

/// Two overlayfs mounts on a tmpfs, each with a binary in its lower
/// layer: `ins` with its upper directory reachable (capture looks the exe
/// up there), `hid` with it hidden under another tmpfs after the mount
/// (capture falls back to "changed since capture started").
fn overlay_setup(w: &Work) -> (String, String) {
    let o = w.path("ovl");
    std::fs::create_dir_all(&o).unwrap();
    let o = o.display().to_string();
    let setup = format!(
        "mount -t tmpfs tmpfs '{o}'\n\
         for n in ins hid; do \
           mkdir -p '{o}'/$n/l '{o}'/$n/up/u '{o}'/$n/w '{o}'/$n/m; \
           cp /bin/true '{o}'/$n/l/image_$n; \
           mount -t overlay overlay -o lowerdir='{o}'/$n/l,upperdir='{o}'/$n/up/u,workdir='{o}'/$n/w '{o}'/$n/m; \
         done\n\
         mount -t tmpfs tmpfs '{o}'/hid/up"
    );
    // Drop a binary in each merged view and run it, run each image's own
    // binary, and one as an unprivileged user (not writable for it).
    let workload = format!(
        "for n in ins hid; do cp /bin/true '{o}'/$n/m/drop_$n; '{o}'/$n/m/drop_$n; '{o}'/$n/m/image_$n; done; \
         setpriv --reuid=65534 --regid=65534 --clear-groups '{o}'/ins/m/image_ins"
    );
    (setup, workload)
}

/// A rule naming the execs above, with Falco's exe flags.
const FLAGS_RULE: &str = "- rule: Layer exec\n  desc: the overlay execs\n  condition: evt.type=execve and proc.name in (drop_ins, drop_hid, image_ins, image_hid)\n  output: exec name=%proc.name uid=%user.uid flags=%evt.arg.flags upper=%proc.is_exe_upper_layer writable=%proc.is_exe_writable\n  priority: WARNING\n";

#[test]
fn a_dropped_binary_executed_in_a_container_and_not_on_the_host() {
    if !ptrace_permitted() || !can_unshare() || !e2e_tests::require("setpriv") {
        return;
    }
    let w = Work::new();
    let (ovl, workload) = overlay_setup(&w);
    let setup = format!("{}\n{ovl}", docker_setup(&w, "drop-ctr"));
    capture_unshared(&w, &CONTAINER, &setup, "", &workload, &[]);
    assert_eq!(w.trace().meta.container_id, ID);
    let rules = w.path("flags.yaml");
    std::fs::write(&rules, FLAGS_RULE).unwrap();
    let rules = rules.display().to_string();
    let (found, out) = alerts(
        &w.trace_path(),
        &["--rule-matching", "all", "-q", "--rules", &rules],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dropped: Vec<_> = found
        .iter()
        .filter(|a| a["rule"] == "Drop and execute new binary in container")
        .map(|a| {
            a["output_fields"]["proc.name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        dropped,
        ["drop_ins", "drop_hid"],
        "{:?}",
        rule_names(&found)
    );
    let drop = found
        .iter()
        .find(|a| a["rule"] == "Drop and execute new binary in container")
        .unwrap();
    assert_eq!(
        drop["output_fields"]["evt.arg.flags"], "EXE_WRITABLE|EXE_UPPER_LAYER",
        "{drop}"
    );
    let layer = |name: &str, uid: u64| {
        let a = found
            .iter()
            .find(|a| {
                a["rule"] == "Layer exec"
                    && a["output_fields"]["proc.name"] == name
                    && a["output_fields"]["user.uid"] == uid
            })
            .unwrap_or_else(|| panic!("no exec of {name} as {uid}: {found:?}"));
        let f = &a["output_fields"];
        (
            f["evt.arg.flags"].as_str().unwrap_or("").to_string(),
            f["proc.is_exe_upper_layer"].clone(),
            f["proc.is_exe_writable"].clone(),
        )
    };
    let (t, f) = (
        serde_json::Value::Bool(true),
        serde_json::Value::Bool(false),
    );
    // root (CAP_DAC_OVERRIDE) may write every image.
    assert_eq!(
        layer("drop_ins", 0),
        ("EXE_WRITABLE|EXE_UPPER_LAYER".into(), t.clone(), t.clone())
    );
    assert_eq!(
        layer("drop_hid", 0),
        ("EXE_WRITABLE|EXE_UPPER_LAYER".into(), t.clone(), t.clone())
    );
    assert_eq!(
        layer("image_ins", 0),
        ("EXE_WRITABLE|EXE_LOWER_LAYER".into(), f.clone(), t.clone())
    );
    assert_eq!(
        layer("image_hid", 0),
        ("EXE_WRITABLE|EXE_LOWER_LAYER".into(), f.clone(), t.clone())
    );
    // nobody, without capabilities, may not write root's 0755 binary.
    assert_eq!(
        layer("image_ins", 65534),
        ("EXE_LOWER_LAYER".into(), f.clone(), f.clone())
    );

    // The same on the host: not a container, no rule.
    let host = Work::new();
    let (ovl, workload) = overlay_setup(&host);
    let setup = format!("{}\n{ovl}", host_setup(&host));
    capture_unshared(&host, &["-m", "-C"], &setup, "", &workload, &[]);
    let (on_host, _) = alerts(&host.trace_path(), &["--rule-matching", "all", "-q"]);
    let names = rule_names(&on_host);
    assert!(
        !names
            .iter()
            .any(|n| n == "Drop and execute new binary in container"),
        "{names:?}"
    );
}
