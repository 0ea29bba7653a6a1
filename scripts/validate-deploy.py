#!/usr/bin/env python3
"""Validates deployment files against the real API schemas, offline.

    python3 scripts/validate-deploy.py FILE...      (no FILE: samples/deploy/*)

  *.json  an ECS task definition, checked with botocore's own request
          validator for RegisterTaskDefinition (botocore ships the ECS
          service model; `aws ecs register-task-definition --cli-input-json`
          validates the same way before sending). A file as
          `describe-task-definition` prints it ({"taskDefinition": ...}) is
          refused: it is not a request.
  *.yaml  Kubernetes objects (one or more documents), checked against the
          Kubernetes API's OpenAPI models (JSON schemas generated from them)
          shipped by PyPI's kubernetes-validate, strict: unknown fields are
          errors. Version: $K8S_VERSION, default 1.33.

Exit status 0 when every file validates, 1 otherwise (each problem named),
2 on a usage error. Needs: botocore, kubernetes-validate (with PyYAML).
"""

import glob
import json
import os
import sys

import botocore.session
import kubernetes_validate
import yaml
from botocore.validate import ParamValidator

K8S_VERSION = os.environ.get("K8S_VERSION", "1.33")


def check_ecs(path, shape):
    with open(path, encoding="utf-8") as f:
        params = json.load(f)
    if not isinstance(params, dict):
        return ["not a JSON object"]
    if "taskDefinition" in params:
        return ["a describe-task-definition answer, not a RegisterTaskDefinition request"]
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        return [report.generate_report()]
    return []


def check_k8s(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        return ["no Kubernetes object in the file"]
    for i, doc in enumerate(docs):
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"document {i}: {e.message} at {list(e.path)}")
        except (
            kubernetes_validate.SchemaNotFoundError,
            kubernetes_validate.InvalidSchemaError,
        ) as e:
            problems.append(f"document {i}: {e}")
    return problems


def main(argv):
    files = argv[1:] or sorted(
        glob.glob("samples/deploy/*.json") + glob.glob("samples/deploy/*.yaml")
    )
    if not files:
        print("validate-deploy: no files", file=sys.stderr)
        return 2
    shape = (
        botocore.session.get_session()
        .get_service_model("ecs")
        .operation_model("RegisterTaskDefinition")
        .input_shape
    )
    failed = 0
    for path in files:
        if path.endswith(".json"):
            kind, problems = "ECS RegisterTaskDefinition", check_ecs(path, shape)
        elif path.endswith((".yaml", ".yml")):
            kind, problems = f"Kubernetes {K8S_VERSION}", check_k8s(path)
        else:
            print(f"validate-deploy: {path}: neither .json nor .yaml", file=sys.stderr)
            return 2
        if problems:
            failed += 1
            for p in problems:
                print(f"{path}: INVALID ({kind}): {p}")
        else:
            print(f"{path}: valid ({kind})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
