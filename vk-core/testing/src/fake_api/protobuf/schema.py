#!/usr/bin/env python3
"""Regenerate schema.txt: the field table of the Kubernetes protobuf messages the fake
API server transcodes, read from the k8s-pb crate (field numbers, wire types, message
types) and k8s-openapi (the JSON name of each field).

Usage: python3 schema.py <k8s-pb src dir> <k8s-openapi src/v1_XX dir> > schema.txt

Line format: `M <message>` starts a message; each field is
`<number> <jsonName> <o|r|m|i> <type>` (optional, repeated, map from string, inlined), where type is
a scalar (string bytes bool int32 int64 double) or a message name.
"""
import os
import re
import sys

GROUPS = [
    "api/core/v1", "api/apps/v1", "api/batch/v1", "api/autoscaling/v1", "api/autoscaling/v2",
    "api/coordination/v1", "api/events/v1", "api/certificates/v1", "api/authentication/v1",
    "api/authorization/v1", "api/discovery/v1", "api/policy/v1",
    "apimachinery/pkg/apis/meta/v1", "apimachinery/pkg/runtime",
    "apimachinery/pkg/api/resource", "apimachinery/pkg/util/intstr",
]
SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}


def norm(s):
    return s.replace("_", "").lower()


def json_names(openapi_dir, module, message):
    """JSON field names of the k8s-openapi type matching `message`, keyed by norm()."""
    path = os.path.join(openapi_dir, module)
    if not os.path.isdir(path):
        return {}
    for f in os.listdir(path):
        if f.endswith(".rs") and norm(f[:-3]) == norm(message):
            text = open(os.path.join(path, f)).read()
            return {norm(j): j for j, _ in re.findall(r'"(\w+)" => Field::Key_(\w+)', text)}
    return {}


def fields_of(pb, message):
    """The norm()ed field names of a k8s-pb message."""
    module, name = message.rsplit(".", 1)
    path = os.path.join(pb, module.replace(".", "/"), "mod.rs")
    if not os.path.exists(path):
        return set()
    m = re.search(r"pub struct " + name + r" \{(.*?)\n\}", open(path).read(), re.S)
    if not m:
        return set()
    return {norm(f.removeprefix("r#")) for f in re.findall(r"pub ([\w#]+):", m.group(1))}


def camel(snake):
    head, *rest = snake.removeprefix("r#").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def resolve(module, rust_type):
    parts = module.split("/")
    segs = rust_type.split("::")
    while segs and segs[0] == "super":
        parts = parts[:-1]
        segs = segs[1:]
    return ".".join(parts + segs)


def main():
    pb, openapi = sys.argv[1], sys.argv[2]
    for module in GROUPS:
        text = open(os.path.join(pb, module, "mod.rs")).read()
        text = "\n".join(l for l in text.splitlines() if not l.strip().startswith("///"))
        for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            name, body = m.group(1), m.group(2) + "\n"
            names = json_names(openapi, module, name)
            print(f"M {module.replace('/', '.')}.{name}")
            for f in re.finditer(r"#\[prost\(([^]]*)\)\]\s*pub ([\w#]+):", body):
                attr, field = f.group(1), f.group(2)
                ty, depth = "", 0
                for c in body[f.end():]:
                    depth += (c == "<") - (c == ">")
                    if c == "," and depth == 0:
                        break
                    ty += c
                ty = re.sub(r"\s+", "", ty)
                tag = re.search(r'tag = "(\d+)"', attr).group(1)
                kind = attr.split(",")[0].strip()
                jname = names.get(norm(field.removeprefix("r#"))) or camel(field)
                if attr.startswith("btree_map"):
                    card = "m"
                    value = attr.split('"')[1].split(",")[1].strip()
                else:
                    card = "r" if "repeated" in attr else "o"
                    value = kind.split("=")[0].strip()
                if value == "message":
                    inner = re.sub(r"::(core::option::Option|prost::alloc::vec::Vec|prost::alloc::boxed::Box|prost::alloc::collections::BTreeMap)<", "", ty)
                    inner = inner.replace("::prost::alloc::string::String,", "").rstrip(">").rstrip(",")
                    value = resolve(module, inner)
                if value not in SCALARS and norm(field) not in names and names:
                    # An embedded struct Go inlines into its parent's JSON (`json:",inline"`).
                    # Such types are not in the OpenAPI schema; all their fields are the parent's.
                    inner_fields = fields_of(pb, value)
                    if inner_fields and inner_fields <= set(names):
                        card = "i"
                assert value in SCALARS or "." in value, (name, field, value)
                print(f"{tag} {jname} {card} {value}")


main()
