//! ECS task definitions: the workload containers run under capture, the
//! binary mounted from a sidecar container that exits after checking it
//! runs (`volumesFrom` + `dependsOn` `SUCCESS`).
//!
//! Input: a task definition as written for `register-task-definition`, or
//! as `describe-task-definition` prints it (`{"taskDefinition": ...,
//! "tags": ...}`: unwrapped, its tags kept, and the fields ECS sets itself
//! dropped, so the output registers). Output: a `register-task-definition`
//! request. Injecting into an output again changes nothing (and with other
//! options, only capture's options).

use serde_json::{Map, Value, json};

use super::{
    CAPTURE_PATH, DEFAULT_STOP_TIMEOUT_SECS, InjectError, InjectOptions, SIDECAR_NAME, SPOOL_DIR, SPOOL_VOLUME,
};

/// Fields of a `describe-task-definition` answer that ECS sets itself and
/// `register-task-definition` refuses.
const DESCRIBE_ONLY: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// Rewrites `input` (see the module doc). Refuses, changing nothing, what
/// cannot work: `pidMode` `host`, a selected container that drops
/// `SYS_PTRACE`, one whose image entrypoint (or command) is needed but not
/// known.
pub fn inject(input: Value, opts: &InjectOptions) -> Result<Value, InjectError> {
    let mut td = unwrap_described(input)?;
    if td.get("pidMode").and_then(Value::as_str) == Some("host") {
        return Err(InjectError::HostPidMode);
    }
    let need_stop = opts.min_stop_timeout()?;
    let task_memory = td.contains_key("memory");

    let containers = match td.get_mut("containerDefinitions") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        Some(Value::Array(_)) | None => return Err(InjectError::NoContainers),
        Some(_) => {
            return Err(InjectError::FieldType {
                what: "the task definition".into(),
                field: "containerDefinitions",
                expected: "a list",
            });
        }
    };
    let mut names = Vec::with_capacity(containers.len());
    for (i, c) in containers.iter().enumerate() {
        let obj = c
            .as_object()
            .ok_or_else(|| InjectError::NotAnObject(format!("container definition {i}")))?;
        let name = obj.get("name").and_then(Value::as_str).ok_or_else(|| {
            InjectError::FieldType {
                what: format!("container definition {i}"),
                field: "name",
                expected: "a string",
            }
        })?;
        names.push(name.to_string());
    }
    for want in &opts.containers {
        if want == SIDECAR_NAME {
            return Err(InjectError::SidecarSelected(want.clone()));
        }
        if !names.contains(want) {
            return Err(InjectError::UnknownContainer(want.clone()));
        }
    }
    let selected = |name: &str| {
        name != SIDECAR_NAME
            && (opts.containers.is_empty() || opts.containers.iter().any(|c| c == name))
    };

    for (c, name) in containers.iter_mut().zip(&names) {
        if !selected(name) {
            continue;
        }
        if let Some(obj) = c.as_object_mut() {
            wrap_container(obj, name, opts, need_stop)?;
        }
    }

    let sidecar = containers
        .iter_mut()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(SIDECAR_NAME));
    match sidecar {
        Some(Value::Object(s)) => {
            s.insert("image".into(), Value::String(opts.sidecar_image.clone()));
            s.insert("essential".into(), Value::Bool(false));
        }
        _ => {
            let mut s = json!({
                "name": SIDECAR_NAME,
                "image": opts.sidecar_image,
                // It exits once it has shown the binary runs here; an
                // essential container that exits would stop the task.
                "essential": false,
                "entryPoint": [CAPTURE_PATH, "--version"],
            });
            // EC2 tasks without task-level memory need it per container.
            if !task_memory && let Some(o) = s.as_object_mut() {
                o.insert("memoryReservation".into(), json!(16));
            }
            containers.push(s);
        }
    }

    let volumes = list_field(&mut td, "volumes", "the task definition")?;
    if !volumes
        .iter()
        .any(|v| v.get("name").and_then(Value::as_str) == Some(SPOOL_VOLUME))
    {
        volumes.push(json!({ "name": SPOOL_VOLUME }));
    }
    Ok(Value::Object(td))
}

/// The task definition itself, from either input form.
fn unwrap_described(input: Value) -> Result<Map<String, Value>, InjectError> {
    let Value::Object(mut top) = input else {
        return Err(InjectError::NotAnObject("the input".into()));
    };
    let Some(inner) = top.remove("taskDefinition") else {
        return Ok(top);
    };
    let Value::Object(mut td) = inner else {
        return Err(InjectError::NotAnObject("taskDefinition".into()));
    };
    for f in DESCRIBE_ONLY {
        td.remove(f);
    }
    // `describe-task-definition --include TAGS` puts the tags beside it.
    if let Some(tags) = top.remove("tags")
        && tags.as_array().is_some_and(|t| !t.is_empty())
        && !td.contains_key("tags")
    {
        td.insert("tags".into(), tags);
    }
    Ok(td)
}

/// `obj[field]` as a list, created empty when absent.
fn list_field<'a>(
    obj: &'a mut Map<String, Value>,
    field: &'static str,
    what: &str,
) -> Result<&'a mut Vec<Value>, InjectError> {
    let v = obj
        .entry(field)
        .or_insert_with(|| Value::Array(Vec::new()));
    if v.is_null() {
        *v = Value::Array(Vec::new());
    }
    v.as_array_mut().ok_or_else(|| InjectError::FieldType {
        what: what.to_string(),
        field,
        expected: "a list",
    })
}

/// `obj[field]` as an object, created empty when absent.
fn object_field<'a>(
    obj: &'a mut Map<String, Value>,
    field: &'static str,
    what: &str,
) -> Result<&'a mut Map<String, Value>, InjectError> {
    let v = obj
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().ok_or_else(|| InjectError::FieldType {
        what: what.to_string(),
        field,
        expected: "an object",
    })
}

/// A list of strings, or None when absent or null.
fn strings(
    obj: &Map<String, Value>,
    field: &'static str,
    what: &str,
) -> Result<Option<Vec<String>>, InjectError> {
    let err = || InjectError::FieldType {
        what: what.to_string(),
        field,
        expected: "a list of strings",
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or_else(err))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(err()),
    }
}

/// Is `cap` SYS_PTRACE (ECS takes it with or without `CAP_`, any case)?
fn is_ptrace(cap: &Value) -> bool {
    cap.as_str().is_some_and(|c| {
        let c = c.to_ascii_uppercase();
        c == "SYS_PTRACE" || c == "CAP_SYS_PTRACE"
    })
}

fn wrap_container(
    c: &mut Map<String, Value>,
    name: &str,
    opts: &InjectOptions,
    need_stop: u64,
) -> Result<(), InjectError> {
    let what = format!("container `{name}`");
    // Checks first: a refusal leaves nothing half done.
    let drops_ptrace = c
        .get("linuxParameters")
        .and_then(|l| l.get("capabilities"))
        .and_then(|k| k.get("drop"))
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(is_ptrace));
    if drops_ptrace {
        return Err(InjectError::PtraceDropped(name.to_string()));
    }
    let wrapper = opts.capture_argv(name)?;
    let entry = strings(c, "entryPoint", &what)?;
    let command = strings(c, "command", &what)?;
    let (original, new_command) = match entry {
        Some(e) if e.first().map(String::as_str) == Some(CAPTURE_PATH) => {
            // Already wrapped: the workload's entrypoint follows the first `--`.
            let end = e
                .iter()
                .position(|a| a == "--")
                .ok_or_else(|| InjectError::MalformedWrapper(name.to_string()))?;
            (e[end + 1..].to_vec(), None)
        }
        Some(e) => (e, None),
        None => {
            let image_entry = opts.image_entrypoint(name).ok_or_else(|| {
                InjectError::UnknownEntrypoint {
                    container: name.to_string(),
                }
            })?;
            // Setting entryPoint makes the runtime drop the image's CMD,
            // so a container without `command` needs it stated.
            let cmd = match command {
                Some(_) => None,
                None => Some(opts.image_command(name).ok_or_else(|| {
                    InjectError::UnknownCommand {
                        container: name.to_string(),
                    }
                })?),
            };
            (image_entry.to_vec(), cmd.map(<[String]>::to_vec))
        }
    };
    let mut new_entry = wrapper;
    new_entry.extend(original);
    c.insert("entryPoint".into(), json!(new_entry));
    if let Some(cmd) = new_command {
        c.insert("command".into(), json!(cmd));
    }

    let linux = object_field(c, "linuxParameters", &what)?;
    let caps = object_field(linux, "capabilities", &what)?;
    let add = list_field(caps, "add", &what)?;
    if !add.iter().any(is_ptrace) {
        add.push(json!("SYS_PTRACE"));
    }

    let from = list_field(c, "volumesFrom", &what)?;
    if !from
        .iter()
        .any(|v| v.get("sourceContainer").and_then(Value::as_str) == Some(SIDECAR_NAME))
    {
        from.push(json!({ "sourceContainer": SIDECAR_NAME, "readOnly": true }));
    }
    let mounts = list_field(c, "mountPoints", &what)?;
    if !mounts
        .iter()
        .any(|m| m.get("containerPath").and_then(Value::as_str) == Some(SPOOL_DIR))
    {
        mounts.push(json!({
            "sourceVolume": SPOOL_VOLUME,
            "containerPath": SPOOL_DIR,
            "readOnly": false,
        }));
    }
    let deps = list_field(c, "dependsOn", &what)?;
    if !deps
        .iter()
        .any(|d| d.get("containerName").and_then(Value::as_str) == Some(SIDECAR_NAME))
    {
        // SUCCESS: the sidecar has exited, and with status 0, so the binary
        // ran on this platform (a wrong-architecture image stops the task
        // here, with the reason, instead of the workload failing to exec).
        deps.push(json!({ "containerName": SIDECAR_NAME, "condition": "SUCCESS" }));
    }
    // Unset, ECS waits 30 s (Fargate) or the agent's configured time (EC2,
    // possibly less): state at least the 30 s default.
    match c.get("stopTimeout").and_then(Value::as_u64) {
        Some(s) if s >= need_stop => {}
        Some(_) => {
            c.insert("stopTimeout".into(), json!(need_stop));
        }
        None => {
            c.insert("stopTimeout".into(), json!(need_stop.max(DEFAULT_STOP_TIMEOUT_SECS)));
        }
    }
    Ok(())
}
