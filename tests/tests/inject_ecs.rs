//! `capture-inject ecs`: the sample and realistic task definitions rewritten
//! (entrypoint and command wrapped, SYS_PTRACE, sidecar, volumes,
//! stopTimeout), every output checked with botocore's own
//! RegisterTaskDefinition validator (`scripts/validate-deploy.py`),
//! idempotence, unknown fields kept, and the refusals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

const SIDECAR_IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sysrec-capture:amd64";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data(name: &str) -> PathBuf {
    root().join("tests/data/ecs").join(name)
}

fn inject(input: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(e2e_tests::bin("capture-inject"));
    cmd.arg("ecs")
        .arg(input)
        .args(["--sidecar-image", SIDECAR_IMAGE])
        .args(args);
    e2e_tests::run_with_timeout(&mut cmd, Duration::from_secs(30))
}

/// Injects, asserting success; the output as JSON.
fn inject_ok(input: &Path, args: &[&str]) -> Value {
    let out = inject(input, args);
    assert!(
        out.status.success(),
        "capture-inject failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("output is JSON")
}

/// Injects, asserting a refusal; its message.
fn inject_err(input: &Path, args: &[&str]) -> String {
    let out = inject(input, args);
    assert!(!out.status.success(), "accepted: {input:?} {args:?}");
    assert!(out.stdout.is_empty(), "a refusal wrote output");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs scripts/validate-deploy.py on `files`.
fn validator(files: &[&Path]) -> Output {
    // Under CI python3 (with botocore and kubernetes-validate) must be
    // there; locally a missing python3 skips.
    assert!(e2e_tests::require("python3") || std::env::var_os("CI").is_some());
    let mut cmd = Command::new("python3");
    cmd.current_dir(root())
        .arg("scripts/validate-deploy.py")
        .args(files);
    e2e_tests::run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// Asserts that botocore accepts `td` as a RegisterTaskDefinition request.
fn assert_registers(td: &Value) {
    if !e2e_tests::have("python3") && std::env::var_os("CI").is_none() {
        eprintln!("skipped validation: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    std::fs::write(&path, serde_json::to_vec_pretty(td).unwrap()).unwrap();
    let out = validator(&[&path]);
    assert!(
        out.status.success(),
        "botocore refuses the output: {}{}\n{td:#}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Injects into `out` again with the same arguments: nothing changes.
fn assert_idempotent(out: &Value, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("once.json");
    std::fs::write(&path, serde_json::to_vec(out).unwrap()).unwrap();
    assert_eq!(&inject_ok(&path, args), out, "a second injection changed it");
}

fn container<'a>(td: &'a Value, name: &str) -> &'a Value {
    td["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {td:#}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The parts every wrapped container has.
fn assert_wrapped(td: &Value, name: &str, workload_entry: &[&str], stop: u64) {
    let c = container(td, name);
    let entry = strings(&c["entryPoint"]);
    assert_eq!(entry[0], "/sysrec/capture", "{name}: {entry:?}");
    assert_eq!(entry[1..3], ["-o", &format!("/sysrec-spool/{name}.zst")]);
    let end = entry.iter().position(|a| *a == "--").unwrap();
    assert_eq!(&entry[end + 1..], workload_entry, "{name}: {entry:?}");
    assert!(
        strings(&c["linuxParameters"]["capabilities"]["add"]).contains(&"SYS_PTRACE"),
        "{name}: {c:#}"
    );
    let from: Vec<&Value> = c["volumesFrom"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["sourceContainer"] == "sysrec-capture")
        .collect();
    assert_eq!(from, [&json!({"sourceContainer": "sysrec-capture", "readOnly": true})]);
    let deps: Vec<&Value> = c["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["containerName"] == "sysrec-capture")
        .collect();
    assert_eq!(deps, [&json!({"containerName": "sysrec-capture", "condition": "SUCCESS"})]);
    assert!(c["mountPoints"].as_array().unwrap().iter().any(|m| m
        == &json!({"sourceVolume": "sysrec-spool", "containerPath": "/sysrec-spool", "readOnly": false})));
    assert_eq!(c["stopTimeout"], stop, "{name}");
}

/// One sidecar, non-essential, that runs the binary once; one spool volume.
fn assert_sidecar(td: &Value) {
    let sidecars: Vec<&Value> = td["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "sysrec-capture")
        .collect();
    assert_eq!(sidecars.len(), 1, "{td:#}");
    assert_eq!(sidecars[0]["image"], SIDECAR_IMAGE);
    assert_eq!(sidecars[0]["essential"], false);
    assert_eq!(
        strings(&sidecars[0]["entryPoint"]),
        ["/sysrec/capture", "--version"]
    );
    let spool = td["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"] == "sysrec-spool")
        .count();
    assert_eq!(spool, 1);
}

#[test]
fn deploy_samples_validate() {
    let dir = root().join("samples/deploy");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = validator(&refs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(": valid (").count(), files.len(), "{stdout}");
}

#[test]
fn the_validator_refuses_what_ecs_and_kubernetes_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut td: Value =
        serde_json::from_slice(&std::fs::read(data("command-only.json")).unwrap()).unwrap();
    td["containerDefinitions"][0]["stopTimeout"] = json!("thirty");
    let bad_type = dir.path().join("bad-type.json");
    std::fs::write(&bad_type, td.to_string()).unwrap();
    td["containerDefinitions"][0]["stopTimeout"] = json!(30);
    td["containerDefinitions"][0]["entrypoint"] = json!(["/x"]);
    let unknown = dir.path().join("unknown-field.json");
    std::fs::write(&unknown, td.to_string()).unwrap();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: b\n      securityContext: {capabilities: {add: SYS_PTRACE}}\n",
    )
    .unwrap();
    for f in [&bad_type, &unknown, &pod] {
        let out = validator(&[f]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{f:?} accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));
    }
}

/// Injecting into the sidecar sample with the options it was written with
/// gives the sample back: the sample is what `capture-inject` writes.
#[test]
fn the_sidecar_sample_is_an_injection() {
    let path = root().join("samples/deploy/ecs-task-definition-sidecar.json");
    let sample: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let args = [
        "--s3",
        "s3://my-forensics-bucket/nginx",
        "--flush-timeout",
        "20",
    ];
    assert_eq!(inject_ok(&path, &args), sample);
}

/// The other samples: the first states no entryPoint (given on the command
/// line); the second's is kept after capture's `--`.
#[test]
fn samples_with_the_image_entrypoint_given() {
    let falcosidekick = [
        "/usr/local/bin/capture",
        "-q",
        "-o",
        "/var/lib/sysrec/trace.zst",
        "--s3",
        "s3://my-forensics-bucket/nginx",
        "--flush-timeout",
        "20",
        "--rules",
        "/etc/falco/falco_rules.yaml",
        "--alerts",
        "http://localhost:2801/",
        "--alerts",
        "stderr",
        "--",
    ];
    for (name, entry) in [
        ("ecs-task-definition.json", &["/docker-entrypoint.sh"][..]),
        ("ecs-task-definition-falcosidekick.json", &falcosidekick[..]),
    ] {
        let path = root().join("samples/deploy").join(name);
        let args = [
            "--container",
            "web",
            "--image-entrypoint",
            "web=[\"/docker-entrypoint.sh\"]",
            "--image-command",
            "web=[\"nginx\",\"-g\",\"daemon off;\"]",
            "--s3",
            "s3://b/p",
        ];
        let out = inject_ok(&path, &args);
        assert_wrapped(&out, "web", entry, 30);
        assert_eq!(
            strings(&container(&out, "web")["command"]),
            ["nginx", "-g", "daemon off;"]
        );
        assert_sidecar(&out);
        assert_registers(&out);
        assert_idempotent(&out, &args);
    }
}

#[test]
fn multi_container_task() {
    let args = [
        "--image-entrypoint",
        "app=[\"/usr/local/bin/docker-entrypoint\"]",
        "--image-entrypoint",
        "log-router=[]",
        "--image-command",
        "log-router=[\"/entrypoint.sh\"]",
        "--s3",
        "s3://forensics/shop",
        "--flush-timeout",
        "45",
        "--rules",
        "/etc/falco/falco_rules.yaml",
        "--alerts",
        "stderr",
    ];
    let input = data("multi-container.json");
    let out = inject_ok(&input, &args);
    // Every container but the sidecar, by default; stopTimeout 45 + 10,
    // except app's 60, which is already enough.
    assert_wrapped(&out, "proxy", &["/docker-entrypoint.sh"], 55);
    assert_wrapped(&out, "app", &["/usr/local/bin/docker-entrypoint"], 60);
    assert_wrapped(&out, "log-router", &[], 55);
    let app = container(&out, "app");
    let entry = strings(&app["entryPoint"]);
    for opt in [
        ["--s3", "s3://forensics/shop"],
        ["--flush-timeout", "45"],
        ["--rules", "/etc/falco/falco_rules.yaml"],
        ["--alerts", "stderr"],
    ] {
        assert!(entry.windows(2).any(|w| w == opt), "{opt:?} in {entry:?}");
    }
    // command kept; the image's CMD stated where there was none.
    assert_eq!(
        strings(&app["command"]),
        ["gunicorn", "-b", "0.0.0.0:9000", "shop.wsgi"]
    );
    assert_eq!(
        strings(&container(&out, "log-router")["command"]),
        ["/entrypoint.sh"]
    );
    // What was there stays: drops, other dependencies, mounts, tags.
    assert_eq!(
        strings(&app["linuxParameters"]["capabilities"]["drop"]),
        ["NET_RAW", "MKNOD"]
    );
    assert_eq!(app["linuxParameters"]["initProcessEnabled"], true);
    let proxy = container(&out, "proxy");
    assert!(proxy["dependsOn"]
        .as_array()
        .unwrap()
        .contains(&json!({"containerName": "app", "condition": "HEALTHY"})));
    assert_eq!(out["tags"], json!([{ "key": "team", "value": "checkout" }]));
    assert_eq!(out["pidMode"], "task");
    assert_eq!(out["volumes"][0], json!({ "name": "static-assets" }));
    assert_sidecar(&out);
    // Fargate task memory: no per-container memory on the sidecar.
    assert!(container(&out, "sysrec-capture").get("memoryReservation").is_none());
    assert_registers(&out);
    assert_idempotent(&out, &args);

    // --container picks; the others stay as they were.
    let only = inject_ok(&input, &["--container", "proxy"]);
    assert_wrapped(&only, "proxy", &["/docker-entrypoint.sh"], 30);
    let original: Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    assert_eq!(container(&only, "app"), container(&original, "app"));
    assert_registers(&only);
    assert_idempotent(&only, &["--container", "proxy"]);
}

#[test]
fn entrypoint_set_on_ec2() {
    let input = data("entrypoint.json");
    let out = inject_ok(&input, &[]);
    // The workload's own `--` (tini's) stays after capture's.
    assert_wrapped(&out, "worker", &["/usr/bin/tini", "--", "/app/worker"], 30);
    assert!(container(&out, "worker").get("command").is_none());
    // EC2 without task memory: the sidecar states its own.
    assert_eq!(container(&out, "sysrec-capture")["memoryReservation"], 16);
    assert_sidecar(&out);
    assert_registers(&out);
    assert_idempotent(&out, &[]);

    // Injecting again with other options changes only capture's options.
    let dir = tempfile::tempdir().unwrap();
    let once = dir.path().join("once.json");
    std::fs::write(&once, out.to_string()).unwrap();
    let again = inject_ok(&once, &["--s3", "s3://b/worker"]);
    let entry = strings(&container(&again, "worker")["entryPoint"]);
    assert_eq!(
        entry,
        [
            "/sysrec/capture",
            "-o",
            "/sysrec-spool/worker.zst",
            "--s3",
            "s3://b/worker",
            "--",
            "/usr/bin/tini",
            "--",
            "/app/worker"
        ]
    );
    assert_eq!(container(&again, "worker")["stopTimeout"], 30);
    assert_registers(&again);
}

#[test]
fn command_only_needs_the_image_entrypoint() {
    let input = data("command-only.json");
    let err = inject_err(&input, &[]);
    assert!(
        err.contains("`report`") && err.contains("--image-entrypoint report="),
        "{err}"
    );
    // python:3.12-slim has no ENTRYPOINT: say so with [].
    let args = ["--image-entrypoint", "report=[]"];
    let out = inject_ok(&input, &args);
    assert_wrapped(&out, "report", &[], 30);
    assert_eq!(
        strings(&container(&out, "report")["command"]),
        ["python", "-m", "reports.daily", "--date", "yesterday"]
    );
    assert_eq!(out["ephemeralStorage"], json!({ "sizeInGiB": 40 }));
    assert_sidecar(&out);
    assert_registers(&out);
    assert_idempotent(&out, &args);
}

#[test]
fn neither_entrypoint_nor_command_needs_the_image_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut td: Value =
        serde_json::from_slice(&std::fs::read(data("command-only.json")).unwrap()).unwrap();
    td["containerDefinitions"][0]
        .as_object_mut()
        .unwrap()
        .remove("command");
    let path = dir.path().join("bare.json");
    std::fs::write(&path, td.to_string()).unwrap();
    let err = inject_err(&path, &["--image-entrypoint", "report=[]"]);
    assert!(err.contains("--image-command report="), "{err}");
}

/// `describe-task-definition`'s answer: unwrapped, ECS's own fields
/// dropped, tags kept, so the result registers.
#[test]
fn described_task_definition() {
    let args = ["--image-entrypoint", "api=[\"/app/start\"]", "--image-command", "api=[]"];
    let out = inject_ok(&data("described.json"), &args);
    for gone in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "taskDefinition",
    ] {
        assert!(out.get(gone).is_none(), "{gone} in {out:#}");
    }
    assert_eq!(out["tags"], json!([{ "key": "service", "value": "api" }]));
    assert_wrapped(&out, "api", &["/app/start"], 30);
    assert_registers(&out);
    assert_idempotent(&out, &args);
}

/// Fields capture-inject does not know come out as they went in.
#[test]
fn unknown_fields_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut td: Value =
        serde_json::from_slice(&std::fs::read(data("entrypoint.json")).unwrap()).unwrap();
    td["futureTaskField"] = json!({"nested": [1, 2, {"x": null}]});
    td["containerDefinitions"][0]["futureContainerField"] = json!("kept");
    td["containerDefinitions"][0]["linuxParameters"] = json!({"futureLinuxField": 7});
    let path = dir.path().join("future.json");
    std::fs::write(&path, td.to_string()).unwrap();
    let out = inject_ok(&path, &[]);
    assert_eq!(out["futureTaskField"], td["futureTaskField"]);
    let w = container(&out, "worker");
    assert_eq!(w["futureContainerField"], "kept");
    assert_eq!(w["linuxParameters"]["futureLinuxField"], 7);
    assert_eq!(
        strings(&w["linuxParameters"]["capabilities"]["add"]),
        ["SYS_PTRACE"]
    );
}

#[test]
fn refusals() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: &Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let base: Value =
        serde_json::from_slice(&std::fs::read(data("entrypoint.json")).unwrap()).unwrap();

    let mut host = base.clone();
    host["pidMode"] = json!("host");
    let err = inject_err(&write("host.json", &host), &[]);
    assert!(err.contains("pidMode `host`"), "{err}");

    for cap in ["SYS_PTRACE", "cap_sys_ptrace"] {
        let mut dropped = base.clone();
        dropped["containerDefinitions"][0]["linuxParameters"] =
            json!({"capabilities": {"drop": ["NET_RAW", cap]}});
        let err = inject_err(&write("drop.json", &dropped), &[]);
        assert!(err.contains("`worker` drops SYS_PTRACE"), "{err}");
    }

    let input = data("entrypoint.json");
    let err = inject_err(&input, &["--s3", "s3://b/p", "--flush-timeout", "115"]);
    assert!(err.contains("maximum of 120 s"), "{err}");
    let err = inject_err(&input, &["--container", "nosuch"]);
    assert!(err.contains("no container named `nosuch`"), "{err}");
    let err = inject_err(&input, &["--container", "sysrec-capture"]);
    assert!(err.contains("is the sidecar"), "{err}");
    let err = inject_err(&input, &["--capture-arg", "--"]);
    assert!(err.contains("`--`"), "{err}");

    let err = inject_err(&write("list.json", &json!([1, 2])), &[]);
    assert!(err.contains("not a JSON object"), "{err}");
    let mut no_containers = base.clone();
    no_containers["containerDefinitions"] = json!([]);
    let err = inject_err(&write("none.json", &no_containers), &[]);
    assert!(err.contains("no containerDefinitions"), "{err}");
    let mut bad_entry = base;
    bad_entry["containerDefinitions"][0]["entryPoint"] = json!("/bin/sh -c x");
    let err = inject_err(&write("bad.json", &bad_entry), &[]);
    assert!(err.contains("`entryPoint`"), "{err}");
}
