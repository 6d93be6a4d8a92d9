#!/usr/bin/env python3
"""Print each built Lambda function's unzipped size, including its layers, after `sam build`.

Lambda caps a function's unzipped deployment package plus all its layers at 250 MB
(262,144,000 bytes). This reads `.aws-sam/build/template.yaml`, resolves each function's
code directory and the layers it references (Globals included), sums the file sizes and
exits 1 if any function is over the limit (or nothing was built).

Usage: python scripts/package_sizes.py [BUILD_DIR]   (default: .aws-sam/build)
Needs PyYAML (present in .venv-tools and in the project's .venv).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from etl_local.sam_template import load_yaml  # noqa: E402 - the repo's CloudFormation YAML reader

LIMIT_BYTES = 262_144_000  # Lambda: 250 MB unzipped, function + layers
MB = 1024 * 1024


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root, name)
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1] if len(argv) > 1 else ".aws-sam/build")
    template_path = build_dir / "template.yaml"
    if not template_path.is_file():
        print(f"package_sizes: {template_path} not found - run `sam build` first", file=sys.stderr)
        return 1
    template = load_yaml(template_path) or {}
    resources = template.get("Resources", {})
    global_layers = (template.get("Globals", {}).get("Function", {}) or {}).get("Layers", []) or []

    layer_dirs: dict[str, Path] = {}
    for logical_id, res in resources.items():
        if res.get("Type") in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            props = res.get("Properties", {})
            uri = props.get("ContentUri") or props.get("Content")
            if isinstance(uri, str):
                layer_dirs[logical_id] = build_dir / uri

    rows = []
    over = False
    for logical_id, res in resources.items():
        if res.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        props = res.get("Properties", {})
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            continue
        code_size = dir_size(build_dir / code_uri)
        layer_size = 0
        names = []
        # SAM appends a function's own Layers to the Globals ones.
        for layer in list(global_layers) + list(props.get("Layers", []) or []):
            # An !If between layers (one per architecture) counts its largest branch.
            choices = layer["Fn::If"][1:] if isinstance(layer, dict) and "Fn::If" in layer else [layer]
            refs = [c.get("Ref") if isinstance(c, dict) else None for c in choices]
            if all(ref in layer_dirs for ref in refs):
                layer_size += max(dir_size(layer_dirs[ref]) for ref in refs)
                names.append(" | ".join(refs))
            else:
                names.append(f"{layer} (external, not counted)")
        total = code_size + layer_size
        over |= total > LIMIT_BYTES
        rows.append((logical_id, code_size, layer_size, total, names))

    if not rows:
        print("package_sizes: no built functions found", file=sys.stderr)
        return 1
    print(f"{'function':<24}{'code MB':>10}{'layers MB':>11}{'total MB':>10}  of 250 MB   layers")
    for logical_id, code_size, layer_size, total, names in rows:
        flag = "OVER LIMIT" if total > LIMIT_BYTES else f"{100 * total / LIMIT_BYTES:5.1f} %   "
        print(f"{logical_id:<24}{code_size / MB:>10.1f}{layer_size / MB:>11.1f}{total / MB:>10.1f}  {flag}  {', '.join(names)}")
    if over:
        print("package_sizes: a function exceeds Lambda's 250 MB unzipped limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
